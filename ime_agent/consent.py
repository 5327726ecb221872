"""What the user agreed to: per category, versioned, withdrawable.

Nothing is captured or stored before consent. Health is special-category data
(GDPR art. 9): it is never part of a default and is only on when chosen by name
(or with ``--all``, which names it). Withdrawing stops a category at once (the
store checks consent inside every write) and deletes what was kept under it.
The consent window of the tray shows :data:`CONSENT_TEXT` as ``consent show`` prints it.
"""

from __future__ import annotations

from ime_agent.errors import ConsentError, NoConsent
from ime_agent.store import Store
from ime_wire.vocabulary import CATEGORIES

DEFAULT_CATEGORIES = ("purchase", "travel")
CONSENT_VERSION = "2026-11-2"

CONSENT_TEXT = """\
ime-agent is a research tool that runs on your computer while you take part in a study.

What it watches: the keys you type and which app has the keyboard, so it can put
together each piece of text you finish (a message, a search, a line in a document).
On Linux it also reads what text fields report to the desktop's accessibility
service (the one screen readers use), so it sees text your input method commits,
such as Chinese, and recognises password fields; while it runs it turns the
desktop's accessibility setting on, as a screen reader would, and turns it back off
when it quits if it was off before. It never watches password fields, password
managers or terminals, and it watches nothing while paused.

What it keeps: for each finished piece of text, your computer itself decides whether
it is about shopping, travel or health. If it is, and you agreed to that kind, a short
summary is kept: the kind, a few coarse words from fixed lists (for example "laptop",
"Vietnam", "sleep"), the language, the type of app (browser, chat, email, office,
code) and the quarter hour. Anything else is only counted per day. Summaries are
encrypted on disk and deleted after 30 days.

What never leaves your computer: the text you type. It is never written to disk, to a
log or to the network; it exists only in memory until it is summarised, then it is
gone. Summaries are shared only for the kinds and studies you agree to, encrypted for
the study, and only after you could review and delete them.

Your control: pause at any time; see, export or delete what is kept; withdraw
consent for any kind at any time, which also deletes what was kept for it. Health is
sensitive: it is off unless you choose it yourself.
"""


def check_categories(categories) -> tuple[str, ...]:
    for category in categories:
        if category not in CATEGORIES:
            raise ConsentError(f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}")
    return tuple(dict.fromkeys(categories))


def current(store: Store) -> dict[str, bool]:
    """Every category with its current choice (False where none was made)."""
    state = store.consent_state()
    return {category: state.get(category, False) for category in CATEGORIES}


def consented(store: Store) -> tuple[str, ...]:
    return tuple(c for c, on in current(store).items() if on)


def require(store: Store) -> tuple[str, ...]:
    """The consented categories, or :class:`NoConsent` when there are none."""
    granted = consented(store)
    if not granted:
        raise NoConsent()
    return granted


def grant(store: Store, categories=DEFAULT_CATEGORIES) -> tuple[str, ...]:
    """Consent to ``categories`` (health only when named) under the current text."""
    categories = check_categories(categories)
    store.set_consent({c: True for c in categories}, CONSENT_VERSION)
    return categories


def withdraw(store: Store, categories=CATEGORIES) -> dict[str, int]:
    """Withdraw and delete what was kept: ``{category: summaries deleted}``."""
    categories = check_categories(categories)
    return store.set_consent({c: False for c in categories}, CONSENT_VERSION)


def apply_choices(store: Store, choices: dict[str, bool]) -> dict[str, int]:
    """Record a whole set of choices, as the consent window returns them."""
    check_categories(choices)
    return store.set_consent(dict(choices), CONSENT_VERSION)


def describe(store: Store) -> str:
    lines = []
    records = {r["category"]: r for r in store.consent_records()}
    for category, on in current(store).items():
        record = records.get(category)
        when = f" (since {record['at']}, consent text {record['version']})" if record else ""
        lines.append(f"  {category:<9} {'yes' if on else 'no'}{when}")
    text = "Your choices:\n" + "\n".join(lines)
    studies = describe_studies(store)
    return f"{text}\n{studies}" if studies else text


def describe_studies(store: Store) -> str:
    """The studies this profile shares summaries with, in the words of the consent text."""
    from ime_agent.sync.outbox import studies  # the consent text names studies; sync owns them

    lines = []
    for study in studies(store):
        hold = study.manifest.review_hold_seconds
        lines.append(f"  {study.manifest.title} (run by {study.manifest.organisation or 'not stated'}): "
                     f"sharing {', '.join(study.categories)}, after a review hold of "
                     f"{hold // 3600} h{f' {hold % 3600 // 60} min' if hold % 3600 else ''}, "
                     f"encrypted for the study and sent to {study.manifest.collector_url}; "
                     "`ime-agent study leave` stops it and deletes what the study holds")
    return "Studies you take part in:\n" + "\n".join(lines) if lines else ""

"""The user's control over their data: consent, status, pause/resume, summaries,
forget, export, ingest and demo. Thin commands over :mod:`ime_agent.store`,
:mod:`ime_agent.consent` and :mod:`ime_agent.ingest`.

Profiles: ``IME_AGENT_PROFILE=testing`` uses the
sibling directory ``<data dir>-testing`` (:func:`ime_agent.store.profile_dir`).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ime_agent import consent as consent_mod
from ime_agent.config import Config, load_config
from ime_agent.errors import BadInput, ImeAgentError, NoConsent
from ime_agent.store import DB_NAME, EXPORT_FORMATS, Store, profile_dir, utcnow

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_DAYS = 3650


# --- pure parsing -----------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """``30s``, ``15m``, ``1h``, ``2d``, ``1h30m`` → seconds."""
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or not match or not any(match.groups()):
        raise BadInput(f"bad duration {text!r}: use a number with s, m, h or d, e.g. 30s, 15m, 1h or 1h30m")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise BadInput(f"bad duration {text!r}: it must be longer than zero, e.g. 15m")
    if total > MAX_DAYS * 86400:
        raise BadInput(f"bad duration {text!r}: at most {MAX_DAYS}d")
    return float(total)


def parse_since(text: str, now: datetime) -> datetime:
    """A time: ISO date or date-time (local time unless it names a zone), or a duration ago (``2h``, ``7d``)."""
    try:
        return now - timedelta(seconds=parse_duration(text))
    except BadInput:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(
            f"bad time {text!r}: use a date (2026-11-20), a date and time (2026-11-20T14:30) or a duration ago (2h, 7d)"
        ) from None
    try:
        if moment.tzinfo is None:
            moment = moment.astimezone()  # local time
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadInput(f"bad time {text!r}: out of range; use a date such as 2026-11-20") from None


# --- helpers ----------------------------------------------------------------------------


def profile_config(ctx: click.Context) -> Config:
    obj = ctx.obj or {}
    config = load_config(data_dir=obj.get("data_dir"))
    return replace(config, data_dir=profile_dir(config.data_dir))


def _interactive() -> bool:
    return sys.stdin.isatty()


def passphrase_prompt(new: bool) -> str | None:
    if not _interactive():
        return None
    return click.prompt("New passphrase for this profile" if new else "Passphrase for this profile",
                        hide_input=True, confirmation_prompt=new)


def _open(config: Config, unlock: bool = True) -> Store:
    """The profile's store; ``unlock=False`` for what needs no key (consent, pause, counts, deletion)."""
    return Store.open(config.data_dir, prompt=passphrase_prompt, retention_days=config.retention_days,
                      unlock=unlock)


def _exists(config: Config) -> bool:
    """Whether the profile has a store; a data dir that is unusable is an error here too."""
    try:
        if config.data_dir.exists() and not config.data_dir.is_dir():
            return True  # opening it says what is wrong
        return (config.data_dir / DB_NAME).exists()
    except OSError:
        return True  # unreadable: likewise


def _categories(categories: tuple[str, ...], everything: bool) -> tuple[str, ...]:
    if everything:
        return consent_mod.CATEGORIES
    return consent_mod.check_categories(categories)


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


# --- consent ----------------------------------------------------------------------------


@click.group(name="consent")
def consent_group() -> None:
    """See, give or withdraw consent (per category: purchase, travel, health)."""


@consent_group.command(name="show")
@click.pass_context
def consent_show(ctx: click.Context) -> None:
    """Print the consent text and your current choices."""
    config = profile_config(ctx)
    choices = "Your choices: none yet (nothing is captured or stored). Run `ime-agent consent grant`."
    if _exists(config):
        with _open(config, unlock=False) as store:
            choices = consent_mod.describe(store)
    click.echo(consent_mod.CONSENT_TEXT)
    click.echo(f"Consent text version {consent_mod.CONSENT_VERSION}.")
    click.echo(choices)


@consent_group.command(name="grant")
@click.option("--category", "categories", multiple=True, metavar="C",
              help="purchase, travel or health; repeatable. Default: purchase and travel.")
@click.option("--all", "everything", is_flag=True, help="All three, health included.")
@click.option("--yes", is_flag=True, help="Agree without being asked (you have read `ime-agent consent show`).")
@click.pass_context
def consent_grant(ctx: click.Context, categories: tuple[str, ...], everything: bool, yes: bool) -> None:
    """Agree to capture and keep summaries for some categories."""
    config = profile_config(ctx)
    chosen = _categories(categories, everything) if (categories or everything) else consent_mod.DEFAULT_CATEGORIES
    if not yes:
        if not _interactive():
            raise BadInput("not asking without a terminal: read `ime-agent consent show`, then run "
                           "`ime-agent consent grant --yes` (with the same --category/--all)")
        click.echo(consent_mod.CONSENT_TEXT)
        off = [c for c in consent_mod.CATEGORIES if c not in chosen]
        click.echo(f"You agree to: {', '.join(chosen)}." + (f" Off: {', '.join(off)}." if off else ""))
        if "health" in chosen:
            click.echo("Health is sensitive (special-category data): agree only if you want it summarised.")
        if not click.confirm("Do you agree?", default=False):
            click.echo("Nothing recorded; nothing is captured or stored.")
            return
    with _open(config, unlock=False) as store:
        consent_mod.grant(store, chosen)
        click.echo(f"consent given for {', '.join(chosen)} (consent text {consent_mod.CONSENT_VERSION})")


@consent_group.command(name="withdraw")
@click.option("--category", "categories", multiple=True, metavar="C", help="purchase, travel or health; repeatable.")
@click.option("--all", "everything", is_flag=True, help="Every category.")
@click.pass_context
def consent_withdraw(ctx: click.Context, categories: tuple[str, ...], everything: bool) -> None:
    """Withdraw consent: that category stops at once and what was kept for it is deleted."""
    if not (categories or everything):
        raise BadInput("say what to withdraw: --category C (purchase, travel, health) or --all")
    chosen = _categories(categories, everything)
    config = profile_config(ctx)
    nothing = BadInput(f"nothing to withdraw: consent is not given for {' or '.join(chosen)} "
                       "(see `ime-agent consent show`)")
    if not _exists(config):
        raise nothing
    with _open(config, unlock=False) as store:
        current = consent_mod.current(store)
        granted = [c for c in chosen if current[c]]
        if not granted:
            raise nothing
        deleted = consent_mod.withdraw(store, granted)
    for category in chosen:
        if category in granted:
            click.echo(f"consent withdrawn for {category}; deleted {deleted.get(category, 0)} summaries")
        else:
            click.echo(f"{category}: consent was not given; nothing to withdraw")


# --- status, pause, resume --------------------------------------------------------------


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """What is captured and kept, whether capture is paused, and where the data lives."""
    from ime_agent.agent import status as agent_status
    from ime_agent.instance import running_pid

    config = profile_config(ctx)
    try:
        pid = running_pid(config.data_dir) if config.data_dir.exists() else None
    except OSError:
        pid = None  # an unreadable data dir: opening the store below says so
    head = [f"data dir:   {config.data_dir}", f"agent:      {f'running (PID {pid})' if pid else 'not running'}"]
    if not _exists(config):
        head.append("consent:    none yet: nothing is captured or stored (run `ime-agent consent grant`)")
        click.echo("\n".join(head))
        return
    with _open(config, unlock=False) as store:
        choices = consent_mod.current(store)
        paused = store.paused_state()
        counts = store.counts()
        key_source = store.setting("key_source")
        level = store.schema_level()
    published = agent_status.published(config.data_dir) if pid else None
    if published is not None:  # the running agent's own words: the tray shows the same line
        line, sources = published["status"], ", ".join(published.get("sources") or []) or "none running"
    else:
        snapshot = agent_status.Snapshot(
            granted=tuple(c for c, on in choices.items() if on), paused=paused.paused,
            paused_until=paused.until, running=bool(pid), today=counts["today"])
        line, sources = agent_status.describe(snapshot)[1], "none running"
    per = ", ".join(f"{c} {n}" for c, n in sorted(counts["by_category"].items())) or "none"
    click.echo("\n".join(head + [
        "consent:    " + ", ".join(f"{c} {'yes' if on else 'no'}" for c, on in choices.items()),
        f"capture:    {line}",
        f"sources:    {sources}",
        f"summaries:  {counts['total']} kept ({per}); today {counts['today']}; "
        f"not about any category today {counts['none_today']}",
        f"retention:  {config.retention_days} days; key: {key_source}; schema level {level}",
    ]))


@click.command()
@click.option("--for", "duration", metavar="DURATION", help="e.g. 30s, 15m, 1h. Default: until `ime-agent resume`.")
@click.pass_context
def pause(ctx: click.Context, duration: str | None) -> None:
    """Stop capturing (a running agent obeys within a second)."""
    seconds = parse_duration(duration) if duration is not None else None
    with _open(profile_config(ctx), unlock=False) as store:
        state = store.pause(seconds)
    click.echo(f"paused until {_local(state.until)}" if state.until else "paused until you run `ime-agent resume`")


@click.command()
@click.pass_context
def resume(ctx: click.Context) -> None:
    """Capture again after a pause."""
    with _open(profile_config(ctx), unlock=False) as store:
        store.resume()
    click.echo("resumed")


# --- summaries, forget, export ----------------------------------------------------------


since_option = click.option(
    "--since", metavar="T", help="From a time on: 2026-11-20, 2026-11-20T14:30, or a duration ago (2h, 7d).")
category_option = click.option("--category", metavar="C", help="purchase, travel or health.")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@since_option
@category_option
@click.pass_context
def summaries(ctx: click.Context, as_json: bool, since: str | None, category: str | None) -> None:
    """Show the summaries kept in this profile (never any text: there is none)."""
    since_t = _filters(since, category)
    config = profile_config(ctx)
    rows = []
    if _exists(config):
        with _open(config) as store:
            rows, damaged = store.read_summaries(since=since_t, category=category)
        if damaged:
            click.echo(f"warning: {damaged} damaged summaries were skipped (they do not decrypt or validate); "
                       "`ime-agent forget` can remove them", err=True)
    if as_json:
        for s in rows:
            click.echo(json.dumps(s.to_dict(), ensure_ascii=False, sort_keys=True))
        return
    if not rows:
        click.echo("no summaries")
        return
    click.echo(format_table(rows))


def _filters(since: str | None, category: str | None):
    """Check --category and parse --since (before any profile is opened)."""
    if category is not None:
        consent_mod.check_categories([category])
    return parse_since(since, utcnow()) if since is not None else None


def format_table(rows) -> str:
    header = ("bucket (UTC)", "intent", "conf", "lang", "app", "slots")
    lines = [header] + [
        (s.bucket, s.intent, f"{s.confidence:.2f}", s.lang, s.app_category,
         ", ".join(f"{k}={v}" for k, v in sorted(s.slots.items())) or "-")
        for s in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1] for line in lines)


@click.command()
@click.option("--all", "everything", is_flag=True, help="Every summary and daily count.")
@category_option
@since_option
@click.pass_context
def forget(ctx: click.Context, everything: bool, category: str | None, since: str | None) -> None:
    """Delete kept summaries: all, one category, or from a time on."""
    if not everything and category is None and since is None:
        raise BadInput("say what to forget: --all, --category C or --since T")
    if everything and (category is not None or since is not None):
        raise BadInput("--all already deletes everything; leave out --category and --since")
    since_t = _filters(since, category)
    config = profile_config(ctx)
    if not _exists(config):
        click.echo("deleted 0 summaries")
        return
    with _open(config, unlock=False) as store:
        n = store.forget(everything=everything, category=category, since=since_t)
    click.echo(f"deleted {n} summaries")


@click.command()
@click.option("--format", "fmt", default="jsonl", metavar="jsonl|csv", help="Default: jsonl.")
@click.option("-o", "--output", type=click.Path(path_type=Path, allow_dash=True),
              help="File to write (mode 0600), or - for standard output.")
@click.pass_context
def export(ctx: click.Context, fmt: str, output: Path | None) -> None:
    """Write your own summaries to a file (decrypted: keep it safe)."""
    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"unknown format {fmt!r}; use --format jsonl or --format csv")
    if output is None:
        raise BadInput("say where to write: -o FILE")
    with _open(profile_config(ctx)) as store:
        n = store.export(output, fmt)
    to_stdout = str(output) == "-"  # then the data alone goes to standard output
    click.echo(f"exported {n} summaries to {'standard output' if to_stdout else output}", err=to_stdout)


# --- ingest and demo --------------------------------------------------------------------


def format_report(report) -> str:
    """Counts only: what was kept, and why the rest was not."""
    stored = ", ".join(f"{c} {report.stored.get(c, 0)}" for c in consent_mod.CATEGORIES)
    dropped, not_stored = report.dropped_events, report.not_stored
    reasons = [
        ("secure field", dropped.get("secure", 0), "key events", "password field or sign-in window: dropped before buffering"),
        ("denied app", dropped.get("denied", 0), "key events", "password manager or terminal: dropped before buffering"),
        ("paused", dropped.get("paused", 0), "key events", "typed while paused: dropped before buffering"),
        ("no consent", not_stored.get("no_consent", 0), "segments", "about a category not agreed to: not kept"),
        ("none", not_stored.get("none", 0), "segments", "about no category: only counted per day"),
    ]
    width = max(len(str(n)) for _r, n, _u, _w in reasons)
    return "\n".join([
        f"files:      {report.files}",
        f"segments:   {report.segments} (finished pieces of text)",
        f"kept:       {stored}",
        "not kept, and why:",
        *(f"  {reason:<14}{n:>{width}}  {unit:<12}{why}" for reason, n, unit, why in reasons),
    ])


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def ingest(ctx: click.Context, files: tuple[Path, ...]) -> None:
    """Replay recorded key-event sessions into this profile, as if typed now."""
    from ime_agent.ingest import ingest as run

    if not files:
        raise BadInput("give one or more session files: ime-agent ingest FILE...")
    config = profile_config(ctx)
    if not _exists(config):
        raise NoConsent()
    with _open(config) as store:
        report = run(store, files, config)
    click.echo(format_report(report))


@click.command()
@click.option("--category", "categories", multiple=True, metavar="C",
              help="Consent for the demo only to these (default: purchase and travel, as `consent grant`).")
@click.option("--keep", is_flag=True, help="Keep the demo profile instead of deleting it.")
@click.pass_context
def demo(ctx: click.Context, categories: tuple[str, ...], keep: bool) -> None:
    """Run the whole pipeline on the bundled sample sessions in a throw-away profile."""
    from ime_agent.ingest import run_demo

    chosen = consent_mod.check_categories(categories) if categories else consent_mod.DEFAULT_CATEGORIES
    config = profile_config(ctx)
    off = [c for c in consent_mod.CATEGORIES if c not in chosen]
    click.echo(f"A fresh temporary profile; consent given for this demo only: {', '.join(chosen)}"
               + (f" (not: {', '.join(off)})." if off else "."))
    click.echo("Replaying the bundled sample sessions through capture guards, classifier and store...\n")
    result = run_demo(config, chosen, keep=keep)
    click.echo(f"Summaries kept ({len(result.summaries)}):")
    click.echo(format_table(result.summaries) if result.summaries else "  none")
    click.echo("")
    click.echo(format_report(result.report))
    click.echo("")
    if result.leaks:
        for path, _i, enc in result.leaks:
            click.echo(f"FOUND typed text in {path} ({enc})")
        raise ImeAgentError("typed text was found on disk: this is a bug, please report it")
    click.echo(f"Checked: none of the {result.texts_checked} typed texts is on disk in the profile "
               f"({result.files_checked} files scanned as UTF-8 and UTF-16).")
    click.echo(f"Profile kept at {result.profile}" if keep else "The demo profile was deleted.")


def register(group: click.Group) -> None:
    group.add_command(consent_group)
    for command in (status, pause, resume, summaries, forget, export, ingest, demo):
        group.add_command(command)

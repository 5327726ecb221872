"""Creating a study and inviting its participants, as plain functions (the CLI only calls these)."""

from __future__ import annotations

import math
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ime_research import settings
from ime_research.client import CollectorClient
from ime_research.errors import ResearchError
from ime_research.studydir import StudyDir, StudyKeys
from ime_wire import joincode, keys, manifest, vocabulary
from ime_wire.errors import InvalidManifest
from ime_wire.timebucket import iso

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_INVITES = 10_000


def parse_duration(text: str) -> int:
    """``0``, ``90s``, ``30m``, ``24h``, ``14d``, ``2w`` → seconds; ValueError otherwise."""
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a duration; write e.g. 0, 30m, 24h, 14d or 2w")
    return int(match[1]) * _UNITS[match[2]]


def default_information(title: str, categories: tuple[str, ...]) -> str:
    kinds = ", ".join(categories)
    return (f"{title}\n\n"
            f"This study collects short summaries of what you type about: {kinds}. A summary holds a "
            "category, a few coarse labels from a fixed list, the kind of app and a 15-minute time window. "
            "What you type never leaves your computer. Summaries wait on your computer for the review hold, "
            "so you can look at them and delete any, then travel encrypted to the study's key: the "
            "collection server cannot read them. You can pause at any time and leave the study whenever "
            "you like; leaving deletes what the server holds from you.")


def create_study(directory: str | Path, *, title: str, collector_url: str, passphrase: str,
                 categories: tuple[str, ...] = vocabulary.CATEGORIES,
                 review_hold_seconds: int | None = None, dp_budget: float = settings.DEFAULT_DP_BUDGET,
                 organisation: str = "", contact: str = "", ethics_ref: str = "", information: str | None = None,
                 retention_days: int = settings.DEFAULT_RETENTION_DAYS, starts: date | None = None,
                 ends: date | None = None, now: datetime | None = None) -> StudyDir:
    """Make a study's keys, sign its manifest and write its directory (refusing a non-empty one)."""
    now = now or datetime.now(UTC)
    if not passphrase:
        raise ResearchError("the passphrase must not be empty")
    if isinstance(dp_budget, bool) or not math.isfinite(dp_budget) or dp_budget <= 0:
        raise ResearchError("the DP budget (epsilon) must be a positive number, e.g. 10")
    categories = tuple(dict.fromkeys(categories)) or vocabulary.CATEGORIES
    if review_hold_seconds is None:
        review_hold_seconds = parse_duration(settings.DEFAULT_REVIEW_HOLD)
    starts = starts or now.astimezone(UTC).date()
    ends = ends or starts + timedelta(days=settings.DEFAULT_STUDY_DAYS)
    study_keys = StudyKeys(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
    hpke_public = study_keys.hpke.public_key()
    draft = manifest.Manifest(
        study_id=secrets.token_hex(16), title=title, organisation=organisation, contact=contact,
        ethics_ref=ethics_ref, information=default_information(title, categories) if information is None else information,
        categories=categories, slots=tuple(s for c in categories for s in vocabulary.SLOTS_FOR[c]),
        collector_url=collector_url, hpke_public_key=keys.encode_public(hpke_public), key_id=keys.key_id(hpke_public),
        signing_key=keys.encode_public(study_keys.signing.public_key()), review_hold_seconds=review_hold_seconds,
        collector_retention_days=retention_days, starts=starts.isoformat(), ends=ends.isoformat(),
        issued_at=iso(now))
    try:
        signed = manifest.sign(draft, study_keys.signing)
    except InvalidManifest as exc:
        raise ResearchError(f"cannot make this study: {exc}") from None
    return StudyDir.create(directory, signed, study_keys, passphrase, {"dp_budget": float(dp_budget)})


def make_invites(study_id: str, count: int, expires: datetime) -> tuple[list[str], list[dict]]:
    """``count`` fresh codes, and what the collector is told of them (hashes and expiry only)."""
    codes = [joincode.new_code() for _ in range(count)]
    return codes, [{"hash": joincode.code_hash(study_id, code), "expires": iso(expires)} for code in codes]


def invite(study: StudyDir, study_keys: StudyKeys, count: int, expires_seconds: int, *,
           client: CollectorClient | None = None, now: datetime | None = None) -> tuple[list[str], datetime]:
    """Register ``count`` single-use join codes with the study's collector; the codes and their expiry.

    The codes are returned only once the collector has registered all of them, in one signed request."""
    if not 1 <= count <= MAX_INVITES:
        raise ResearchError(f"make 1 to {MAX_INVITES} codes at a time")
    if expires_seconds <= 0:
        raise ResearchError("codes must expire some time from now (e.g. --expires 14d)")
    now = now or datetime.now(UTC)
    expires = (now + timedelta(seconds=expires_seconds)).replace(microsecond=0)
    codes, invites = make_invites(study.manifest.study_id, count, expires)
    own_client = client is None
    client = client or CollectorClient(study.manifest.collector_url, study.manifest.study_id, study_keys.signing)
    try:
        answer = client.register_invites(invites)
    finally:
        if own_client:
            client.close()
    if answer.get("registered", 0) + answer.get("already", 0) != count:
        raise ResearchError("the collector did not confirm every code; none were printed, try again")
    return codes, expires

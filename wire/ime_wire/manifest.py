"""Study manifests: what a study collects, who runs it and where summaries go, signed.

A manifest is signed with the study's Ed25519 key; the signature covers the
canonical bytes of every field. The file form (``study.json``) is itself
canonical (sorted keys, two-space indent), so any change to the file, a single
byte or a blank, is refused rather than silently normalised away. Whoever holds
the manifest can check it; the trust anchor is the signing key's fingerprint,
which the study's information sheet prints and the participant compares.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from os import PathLike

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ime_wire import SCHEMA_VERSION, files, keys, vocabulary
from ime_wire.canonical import b64, canonical, unb64
from ime_wire.errors import InvalidManifest
from ime_wire.urls import check_collector_url

MANIFEST_VERSION = 1
MAX_BYTES = 256 * 1024
_CONTEXT = b"ime-wire/manifest/v1\x00"
_STUDY_ID = re.compile(r"^[0-9a-f]{32}$")
_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
TEXT_LIMITS = {"title": 200, "organisation": 200, "contact": 500, "ethics_ref": 200, "information": 20_000}


@dataclass(frozen=True)
class Manifest:
    study_id: str
    title: str
    organisation: str  # who runs the study
    contact: str  # how to reach them
    ethics_ref: str  # ethics approval reference
    information: str  # the information sheet's text
    categories: tuple[str, ...]
    slots: tuple[str, ...]  # slot names collected (of the categories' slots)
    collector_url: str
    hpke_public_key: str  # X25519, URL-safe base64
    key_id: str  # of the HPKE key; bound into every envelope
    signing_key: str  # Ed25519, URL-safe base64
    review_hold_seconds: int  # how long a summary waits on the device before upload
    collector_retention_days: int
    starts: str  # YYYY-MM-DD (UTC)
    ends: str  # YYYY-MM-DD (UTC), inclusive
    issued_at: str
    schema_version: int = SCHEMA_VERSION
    manifest_version: int = MANIFEST_VERSION

    # -- views --------------------------------------------------------------------------

    def to_dict(self) -> dict:
        d = asdict(self)
        d["categories"], d["slots"] = list(self.categories), list(self.slots)
        return d

    @property
    def signing_public_key(self) -> Ed25519PublicKey:
        return keys.ed25519_public(self.signing_key)

    @property
    def fingerprint(self) -> str:
        """What the participant compares with the information sheet."""
        return keys.fingerprint(self.signing_public_key)

    def slots_for(self, category: str) -> tuple[str, ...]:
        return tuple(s for s in vocabulary.SLOTS_FOR.get(category, ()) if s in self.slots)

    def is_open(self, now: datetime) -> bool:
        return date.fromisoformat(self.starts) <= now.astimezone(UTC).date() <= date.fromisoformat(self.ends)

    def check_dates(self, now: datetime) -> None:
        today = now.astimezone(UTC).date()
        if today > date.fromisoformat(self.ends):
            raise InvalidManifest(f"the study {self.title!r} ended on {self.ends}; it takes no new participants or data")
        if today < date.fromisoformat(self.starts):
            raise InvalidManifest(f"the study {self.title!r} starts on {self.starts}; join from then on")


# --- signing and reading ------------------------------------------------------------------


def sign(manifest: Manifest, key: Ed25519PrivateKey) -> bytes:
    """The signed file form (``study.json``) of ``manifest``; ``key`` must match ``signing_key``."""
    _check(manifest)
    if keys.encode_public(key.public_key()) != manifest.signing_key:
        raise InvalidManifest("the manifest names another signing key than the one signing it")
    body = manifest.to_dict()
    signature = key.sign(_CONTEXT + canonical(body))
    return _file_bytes({"manifest": body, "signature": b64(signature)})


def _file_bytes(document: dict) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode()


def read_file(path: str | PathLike) -> bytes:
    """A manifest file's bytes, read bounded (``files.read_small``); refused with
    ``InvalidManifest``, a message without a hint, for the caller to add its own."""
    try:
        return files.read_small(path, MAX_BYTES)
    except FileNotFoundError:
        raise InvalidManifest(f"{path}: no such manifest file") from None
    except files.FileRefused as exc:
        raise InvalidManifest(f"{path} {exc}") from None
    except OSError as exc:
        raise InvalidManifest(f"{path}: cannot read it ({exc.strerror})") from None


def load(data: bytes, *, now: datetime | None = None, source: str = "the manifest") -> Manifest:
    """Check and parse a signed manifest file; with ``now``, also that the study is open.

    Refused (:class:`InvalidManifest`, naming ``source``): anything changed after
    signing, an unsigned or malformed file, a bad signature, and — given ``now`` —
    a study that ended or has not started."""
    if len(data) > MAX_BYTES:
        raise InvalidManifest(f"{source} is over {MAX_BYTES // 1024} KiB; it is not a study manifest")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidManifest(f"{source} is not a JSON study manifest") from None
    if not isinstance(document, dict) or "manifest" not in document:
        raise InvalidManifest(f"{source} is not a study manifest (no 'manifest' field)")
    if not document.get("signature"):
        raise InvalidManifest(f"{source} is not signed; ask the study for its signed study.json")
    if set(document) != {"manifest", "signature"}:
        raise InvalidManifest(f"{source} has fields outside the signed manifest; it was changed after signing")
    try:
        canonical_form = _file_bytes(document)
    except ValueError:
        raise InvalidManifest(f"{source} holds values JSON cannot carry") from None
    if canonical_form != data:
        raise InvalidManifest(f"{source} was changed after signing (it is not byte for byte as signed)")
    body = document["manifest"]
    try:  # the signature first: a changed field is reported as a change, not as a bad value
        signing_key = keys.ed25519_public(body.get("signing_key") if isinstance(body, dict) else None)
        signing_key.verify(unb64(document["signature"], "signature"), _CONTEXT + canonical(body))
    except (ValueError, InvalidSignature):
        raise InvalidManifest(f"{source} has a bad signature: it was changed after signing, or not signed by "
                              "the study's key") from None
    manifest = _parse(body, source)
    if now is not None:
        manifest.check_dates(now)
    return manifest


def _parse(body: object, source: str) -> Manifest:
    if not isinstance(body, dict):
        raise InvalidManifest(f"{source}: 'manifest' must be an object")
    names = [f.name for f in fields(Manifest)]
    missing = [n for n in names if n not in body]
    if missing:
        raise InvalidManifest(f"{source} lacks {', '.join(missing)}")
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise InvalidManifest(f"{source} has unknown fields ({', '.join(unknown)}); upgrade ime-agent to read it")
    values = dict(body)
    for name in ("categories", "slots"):
        if not isinstance(values[name], list):
            raise InvalidManifest(f"{source}: '{name}' must be a list")
        values[name] = tuple(values[name])
    manifest = Manifest(**values)
    try:
        _check(manifest)
    except InvalidManifest as exc:
        raise InvalidManifest(f"{source}: {exc}") from None
    return manifest


def _check(m: Manifest) -> None:
    """Every field of the right type and in range (not the signature, not the dates vs now)."""
    for name in ("manifest_version", "schema_version", "review_hold_seconds", "collector_retention_days"):
        if type(getattr(m, name)) is not int:
            raise InvalidManifest(f"'{name}' must be a whole number")
    if m.manifest_version != MANIFEST_VERSION:
        raise InvalidManifest(f"manifest version {m.manifest_version} is not supported (this build reads "
                              f"{MANIFEST_VERSION}); upgrade ime-agent")
    if m.schema_version != SCHEMA_VERSION:
        raise InvalidManifest(f"summary schema {m.schema_version} is not supported (this build speaks "
                              f"{SCHEMA_VERSION}); upgrade ime-agent")
    if not isinstance(m.study_id, str) or not _STUDY_ID.match(m.study_id):
        raise InvalidManifest("'study_id' must be 32 lower-case hex digits")
    for name, limit in TEXT_LIMITS.items():
        value = getattr(m, name)
        if not isinstance(value, str) or len(value) > limit or (name == "title" and not value.strip()):
            raise InvalidManifest(f"'{name}' must be text of at most {limit} characters"
                                  + (", not empty" if name == "title" else ""))
    if not m.categories or any(c not in vocabulary.CATEGORIES for c in m.categories) \
            or len(set(m.categories)) != len(m.categories):
        raise InvalidManifest(f"'categories' must list some of {', '.join(vocabulary.CATEGORIES)}, each once")
    allowed = {s for c in m.categories for s in vocabulary.SLOTS_FOR[c]}
    if any(not isinstance(s, str) or s not in allowed for s in m.slots) or len(set(m.slots)) != len(m.slots):
        raise InvalidManifest("'slots' must list slots of the study's categories, each once")
    try:
        check_collector_url(m.collector_url)
        keys.x25519_public(m.hpke_public_key)
        keys.ed25519_public(m.signing_key)
    except ValueError as exc:
        raise InvalidManifest(str(exc)) from None
    if not isinstance(m.key_id, str) or not _KEY_ID.match(m.key_id) \
            or m.key_id != keys.key_id(keys.x25519_public(m.hpke_public_key)):
        raise InvalidManifest("'key_id' does not name the study's encryption key")
    if not 0 <= m.review_hold_seconds <= 90 * 86400:
        raise InvalidManifest("'review_hold_seconds' must be from 0 to 90 days")
    if not 1 <= m.collector_retention_days <= 3650:
        raise InvalidManifest("'collector_retention_days' must be from 1 to 3650")
    try:
        starts, ends = date.fromisoformat(m.starts), date.fromisoformat(m.ends)
        datetime.fromisoformat(m.issued_at.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError):
        raise InvalidManifest("'starts' and 'ends' must be dates (YYYY-MM-DD) and 'issued_at' a time") from None
    if len(m.starts) != 10 or len(m.ends) != 10 or ends < starts:
        raise InvalidManifest("'ends' must be a YYYY-MM-DD date on or after 'starts'")

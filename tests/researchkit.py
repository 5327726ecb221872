"""Test kit for the research tool: a study, participants making real uploads, a feed.

Everything cryptographic here is the real wire contract (``ime_wire``): manifests
are signed, batches sealed with HPKE and signed by a device key, exactly as the
agent does. Only the collector's feed is stood in for (:class:`FeedStandIn`,
the ``items`` answer of ``docs/protocol.md``), so an end-to-end test can replace
it with a real collector process without changing the rest.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ime_wire import SCHEMA_VERSION, keys, manifest as wire_manifest, vocabulary
from ime_wire.canonical import canonical
from ime_wire.envelope import BatchContext, Upload, batch_plaintext, make_upload
from ime_wire.summary import Summary
from ime_wire.timebucket import iso

STUDY_START = date(2026, 3, 2)  # a Monday


@dataclass
class StudyKeys:
    signing: Ed25519PrivateKey
    hpke: X25519PrivateKey


def make_manifest(signing: Ed25519PrivateKey, hpke: X25519PrivateKey, *,
                  categories=("purchase", "travel", "health"), slots=None, days: int = 60,
                  collector_url: str = "http://127.0.0.1:9") -> bytes:
    """A signed ``study.json`` (its bytes)."""
    slots = tuple(s for c in categories for s in vocabulary.SLOTS_FOR[c]) if slots is None else tuple(slots)
    hpke_public = hpke.public_key()
    m = wire_manifest.Manifest(
        study_id=secrets.token_hex(16), title="Shopping and travel plans (test study)",
        organisation="Example University", contact="study@example.org", ethics_ref="TEST-0001",
        information="An invented study for tests.", categories=tuple(categories), slots=slots,
        collector_url=collector_url, hpke_public_key=keys.encode_public(hpke_public),
        key_id=keys.key_id(hpke_public), signing_key=keys.encode_public(signing.public_key()),
        review_hold_seconds=0, collector_retention_days=30, starts=STUDY_START.isoformat(),
        ends=(STUDY_START + timedelta(days=days - 1)).isoformat(), issued_at="2026-03-01T00:00:00Z")
    return wire_manifest.sign(m, signing)


@dataclass
class Participant:
    """One enrolled device: an enrollment id and its own signing key."""

    enrollment_id: str = field(default_factory=lambda: secrets.token_hex(16))
    device_key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def device_public(self) -> str:
        return keys.encode_public(self.device_key.public_key())

    def upload(self, manifest: wire_manifest.Manifest, summaries: list[Summary],
               batch_id: str | None = None) -> Upload:
        return self.upload_plaintext(manifest, batch_plaintext(summaries), batch_id)

    def upload_plaintext(self, manifest: wire_manifest.Manifest, plaintext: bytes,
                         batch_id: str | None = None) -> Upload:
        context = BatchContext(manifest.study_id, self.enrollment_id, batch_id or secrets.token_hex(16),
                               manifest.key_id)
        return make_upload(plaintext, keys.x25519_public(manifest.hpke_public_key), context, self.device_key)


def unchecked_plaintext(summaries: list[dict]) -> bytes:
    """A batch's plaintext as a broken or hostile device could make it: nothing validated."""
    return canonical({"schema_version": SCHEMA_VERSION, "summaries": summaries})


def random_summary(rng: random.Random, manifest: wire_manifest.Manifest, *, day0: date = STUDY_START,
                   days: int = 14, skew: float = 1.0) -> Summary:
    """A valid summary of one of the study's categories; ``skew`` > 1 favours the first values."""
    def pick(values):
        return values[min(int(len(values) * rng.random() ** skew), len(values) - 1)]

    intent = pick(manifest.categories)
    moment = datetime(day0.year, day0.month, day0.day, tzinfo=UTC) + timedelta(
        minutes=15 * rng.randrange(days * 96))
    slots = {name: pick(vocabulary.SLOTS[name]) for name in manifest.slots_for(intent) if rng.random() < 0.7}
    return Summary(id=secrets.token_hex(16), bucket=iso(moment), app_category=pick(vocabulary.APP_CATEGORIES),
                   lang=pick(vocabulary.LANGS), intent=intent, confidence=round(0.45 + 0.55 * rng.random(), 3),
                   slots=slots, model_id="intent-en-2026.11.1-test")


def batch_item(participant: Participant, upload: Upload, received: str = "2026-03-10") -> dict:
    return {"kind": "batch", "upload": upload.to_dict(), "device_key": participant.device_public,
            "received": received}


def tombstone_item(participant: Participant, withdrawn: str = "2026-03-12") -> dict:
    return {"kind": "tombstone", "enrollment_id": participant.enrollment_id, "withdrawn": withdrawn}


class FeedStandIn:
    """The collector's researcher feed over a list of items: pages of ``limit``, cursor = position."""

    def __init__(self, items: list[dict] | None = None):
        self.list: list[dict] = list(items or [])
        self.calls: list[tuple[str | None, int]] = []

    def add(self, *items: dict) -> None:
        self.list.extend(items)

    def items(self, after: str | None, limit: int) -> dict:
        self.calls.append((after, limit))
        start = int(after) if after else 0
        page = self.list[start:start + limit]
        end = start + len(page)
        return {"items": page, "next": str(end), "more": end < len(self.list)}

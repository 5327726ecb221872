"""``ime-research pull``: bring the collector's new batches and tombstones into the research database.

Each batch is checked before anything of it is kept: it belongs to this study
and its key, the device's signature holds (and the device key is the one the
enrollment started with), it was not seen before, its participant has not
withdrawn, and it opens with the study's private key. Every summary in it is
then validated against the wire contract's vocabulary; invalid ones are counted
and dropped, the valid ones kept. A tombstone deletes that participant's local
copies. Each feed page is stored in one transaction together with the cursor
after it, so an interrupted pull resumes where it stopped and never keeps a page
twice.

The feed is anything with ``items(after, limit) -> dict`` answering the
collector's ``GET /v1/studies/{id}/items`` body (``docs/protocol.md``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ime_wire import keys as wire_keys
from ime_wire import vocabulary
from ime_wire.envelope import Upload, open_raw
from ime_wire.errors import BadSignature, EnvelopeError, InvalidSummary
from ime_wire.manifest import Manifest
from ime_wire.summary import check_wire

from ime_research.errors import FeedError
from ime_research.researchdb import SUMMARY_SCHEMA, ResearchDB

PAGE_LIMIT = 500
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SLOT_NAMES = tuple(vocabulary.SLOTS)
#: A summary's wire form as Arrow reads it (slots nested); stored as :data:`SUMMARY_SCHEMA`.
_WIRE_SCHEMA = pa.schema([
    *[(f.name, f.type) for f in SUMMARY_SCHEMA if f.name not in _SLOT_NAMES and f.name != "bucket"],
    ("bucket", pa.string()),
    ("slots", pa.struct([(name, pa.string()) for name in _SLOT_NAMES])),
])


class Feed(Protocol):
    def items(self, after: str | None, limit: int) -> dict: ...


@dataclass
class PullCounts:
    batches: int = 0  # new batches kept
    summaries: int = 0  # valid summaries kept
    duplicates: int = 0  # batches already kept
    bad_signatures: int = 0  # batches whose device signature (or device key) did not check
    unopened: int = 0  # batches that did not open with the study key (or were not this study's)
    out_of_vocabulary: int = 0  # summaries dropped for a value outside the vocabulary
    tombstones: int = 0  # withdrawals applied
    withdrawn_batches: int = 0  # batches of a participant who had already withdrawn, dropped

    def add(self, other: "PullCounts") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def lines(self) -> list[str]:
        return [f"{label}: {getattr(self, name)}" for name, label in LABELS.items()]


#: What ``pull`` prints, in order.
LABELS = {
    "batches": "batches",
    "summaries": "summaries",
    "duplicates": "duplicates",
    "bad_signatures": "bad signatures",
    "unopened": "envelopes not opened",
    "out_of_vocabulary": "out-of-vocabulary values",
    "tombstones": "tombstones applied",
    "withdrawn_batches": "batches of withdrawn participants",
}


class Ingester:
    """Checks and stores feed items; keeps what it learnt (device keys, tombstones) between pages.

    Checked batches wait in ``_pending`` until the next tombstone or the end of the page, then
    their summaries become one Arrow table, stored batch by batch as slices of it."""

    def __init__(self, db: ResearchDB, manifest: Manifest, study_key: X25519PrivateKey):
        self.db = db
        self.manifest = manifest
        self.study_key = study_key
        self._device_keys: dict[str, str] = db.device_keys()
        self._verifiers: dict[str, Ed25519PublicKey] = {}
        self._withdrawn = db.withdrawn()
        self._pending: list[tuple[str, str, str, int]] = []  # batch id, enrollment id, day received, summaries
        self._valid: list[dict] = []  # the pending batches' valid summaries, in order

    def page(self, items: list) -> PullCounts:
        """Store one page's items; the caller holds the transaction."""
        counts = PullCounts()
        batch_ids = [_batch_id(item) for item in items]
        seen = self.db.seen_batch_ids([b for b in batch_ids if b])
        for item in items:
            kind = item.get("kind") if isinstance(item, dict) else None
            if kind == "batch":
                self._batch(item, seen, counts)
            elif kind == "tombstone":
                self._flush()  # the batches before it are stored first, so it deletes them too
                self._tombstone(item, counts)
            else:
                raise FeedError("the collector's feed holds an item that is neither a batch nor a tombstone; "
                                "upgrade ime-research")
        self._flush()
        return counts

    def _tombstone(self, item: dict, counts: PullCounts) -> None:
        enrollment_id, withdrawn = item.get("enrollment_id"), item.get("withdrawn")
        if not isinstance(enrollment_id, str) or not _HEX32.match(enrollment_id) \
                or not isinstance(withdrawn, str) or not _DAY.match(withdrawn):
            raise FeedError("the collector's feed holds a malformed tombstone; nothing of this page was kept")
        if self.db.apply_tombstone(enrollment_id, withdrawn):
            counts.tombstones += 1
        self._withdrawn.add(enrollment_id)
        self._device_keys.pop(enrollment_id, None)

    def _batch(self, item: dict, seen: set[str], counts: PullCounts) -> None:
        try:
            upload = Upload.from_dict(item.get("upload"))
        except EnvelopeError:
            counts.unopened += 1
            return
        context = upload.context
        if context.study_id != self.manifest.study_id or context.key_id != self.manifest.key_id:
            counts.unopened += 1
            return
        if context.enrollment_id in self._withdrawn:
            counts.withdrawn_batches += 1
            return
        if context.batch_id in seen:
            counts.duplicates += 1
            return
        device_key = item.get("device_key")
        known = self._device_keys.get(context.enrollment_id)
        if not isinstance(device_key, str) or (known is not None and known != device_key):
            counts.bad_signatures += 1  # the collector changed an enrollment's key: trust neither
            return
        try:
            upload.verify(self._verifier(device_key))
        except (BadSignature, ValueError):
            counts.bad_signatures += 1
            return
        try:
            raw = open_raw(upload.ciphertext, self.study_key, context)
        except (EnvelopeError, InvalidSummary):
            counts.unopened += 1
            return
        received = item.get("received")
        if not isinstance(received, str) or not _DAY.match(received):
            raise FeedError("the collector's feed holds a batch without its day received; nothing of this "
                            "page was kept")
        kept = 0
        for obj in raw:
            try:
                check_wire(obj)
            except InvalidSummary:
                counts.out_of_vocabulary += 1
                continue
            self._valid.append(obj)
            kept += 1
        if known is None:
            self.db.add_enrollment(context.enrollment_id, device_key)
            self._device_keys[context.enrollment_id] = device_key
        self._pending.append((context.batch_id, context.enrollment_id, received, kept))
        seen.add(context.batch_id)
        counts.batches += 1
        counts.summaries += kept

    def _verifier(self, device_key: str) -> Ed25519PublicKey:
        key = self._verifiers.get(device_key)
        if key is None:
            key = self._verifiers[device_key] = wire_keys.ed25519_public(device_key, "device key")
        return key

    def _flush(self) -> None:
        """Store the pending batches, each with its slice of one table of their summaries."""
        if not self._pending:
            return
        table = _summary_table(self._valid)
        start = 0
        for batch_id, enrollment_id, received, kept in self._pending:
            self.db.add_batch(batch_id, enrollment_id, received, table.slice(start, kept) if kept else None)
            start += kept
        self._pending, self._valid = [], []


def _summary_table(valid: list[dict]) -> pa.Table:
    """Validated summaries (wire form) as a table of :data:`SUMMARY_SCHEMA`."""
    wire = pa.Table.from_pylist(valid, schema=_WIRE_SCHEMA)  # validated: every value fits its type
    slots = wire["slots"].combine_chunks()
    columns = {name: wire[name] for name in wire.column_names if name != "slots"}
    columns["bucket"] = pc.strptime(wire["bucket"], format="%Y-%m-%dT%H:%M:%SZ", unit="s").cast(pa.int64())
    columns.update({name: slots.field(name) for name in _SLOT_NAMES})
    return pa.table([columns[name] for name in SUMMARY_SCHEMA.names], schema=SUMMARY_SCHEMA)


def _batch_id(item: object) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("upload"), dict):
        batch_id = item["upload"].get("batch_id")
        return batch_id if isinstance(batch_id, str) else None
    return None


def _page_parts(page: object) -> tuple[list, str | None, bool]:
    if not isinstance(page, dict) or not isinstance(page.get("items"), list) \
            or not isinstance(page.get("more"), bool) \
            or not (page.get("next") is None or isinstance(page.get("next"), str)):
        raise FeedError("the collector answered something that is not a feed page (items, next, more); "
                        "check the collector URL and versions")
    return page["items"], page.get("next"), page["more"]


def pull(db: ResearchDB, feed: Feed, manifest: Manifest, study_key: X25519PrivateKey, *,
         limit: int = PAGE_LIMIT, now: datetime | None = None) -> PullCounts:
    """Fetch pages from the stored cursor until the feed has no more; return what was done."""
    ingester = Ingester(db, manifest, study_key)
    total = PullCounts()
    while True:
        cursor = db.cursor()
        items, next_cursor, more = _page_parts(feed.items(after=cursor, limit=limit))
        with db.transaction():
            counts = ingester.page(items)
            db.set_cursor(next_cursor)
            db.add_counts(counts.as_dict())
        total.add(counts)
        if not more:
            break
        if not items and next_cursor == cursor:
            raise FeedError("the collector's feed says there is more but does not move on; try again later")
    with db.transaction():
        db.log_pull(total.as_dict(), now or datetime.now(UTC))
    return total

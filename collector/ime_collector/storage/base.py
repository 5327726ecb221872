"""The storage interface: everything the collector keeps, behind one small class.

One implementation of the logic (:mod:`.sql`) runs over two backends, SQLite
(:mod:`.sqlite`, embedded, the default) and PostgreSQL (:mod:`.postgres`, for
several server processes); the same test suite runs over both. Every method is
one short transaction. What is kept: manifests, join-code hashes, enrollments
(random id, device public key, days enrolled and withdrawn) and the feed of
items (sealed batches and tombstones, each with the day it arrived). Nothing
here ever holds an IP address, an exact time or a key that opens a batch.
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass

import anyio.to_thread


class Enrolled(enum.Enum):
    CREATED = "created"  # a fresh enrollment
    AGAIN = "again"  # the same code and device key again: the same enrollment (a retry)
    CODE_USED = "code-used"  # the code belongs to another device key
    UNKNOWN_CODE = "unknown-code"  # no such code for this study, or it expired unused
    WITHDRAWN = "withdrawn"  # the code's enrollment has left the study


class Stored(enum.Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # the same batch id with the same bytes, already kept
    CONFLICT = "conflict"  # the same batch id with other bytes
    NOT_ENROLLED = "not-enrolled"  # no such enrollment in this study, or it was withdrawn


@dataclass(frozen=True)
class Enrollment:
    study_id: str
    enrollment_id: str
    device_key: str  # Ed25519, URL-safe base64
    enrolled: str  # YYYY-MM-DD
    withdrawn: str | None  # YYYY-MM-DD


@dataclass(frozen=True)
class Item:
    """One entry of the researcher's feed."""

    cursor: str  # where the feed goes on after this item
    kind: str  # "batch" or "tombstone"
    enrollment_id: str
    day: str  # received (batch) or withdrawn (tombstone), YYYY-MM-DD
    body: bytes | None = None  # a batch: the upload's canonical JSON
    device_key: str | None = None  # a batch: the key that signed it


@dataclass(frozen=True)
class Page:
    items: list[Item]
    next: str  # the cursor to ask with next time (the given one when nothing new is visible)
    more: bool  # whether more items are visible right now


class Storage(abc.ABC):
    """What the collector stores. Days are ``YYYY-MM-DD`` (UTC); times ``YYYY-MM-DDTHH:MM:SSZ``."""

    #: "sqlite" or "postgresql", for /healthz.
    kind: str

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise :class:`~ime_collector.errors.StorageError` unless the database answers."""

    @abc.abstractmethod
    def schema_level(self) -> int: ...

    @abc.abstractmethod
    def add_study(self, study_id: str, manifest: bytes, retention_days: int, day: str) -> bool:
        """Register a manifest: True if new, False if exactly this one is already there;
        :class:`~ime_collector.errors.StudyConflict` if another one is."""

    @abc.abstractmethod
    def study_manifest(self, study_id: str) -> bytes | None: ...

    @abc.abstractmethod
    def add_invites(self, study_id: str, codes: list[tuple[str, str]]) -> tuple[int, int]:
        """Store ``(code hash, expiry time)`` pairs; returns (newly registered, already there)."""

    @abc.abstractmethod
    def enroll(self, study_id: str, code_hash: str, device_key: str, now: str, day: str) -> tuple[Enrolled, str | None]:
        """Use a join code for a device key; returns the outcome and the enrollment id (if any)."""

    @abc.abstractmethod
    def enrollment(self, enrollment_id: str) -> Enrollment | None: ...

    @abc.abstractmethod
    def add_batch(self, study_id: str, enrollment_id: str, batch_id: str, body: bytes, digest: str,
                  day: str) -> Stored:
        """Keep an upload's bytes once per batch id, only for a current enrollment of the study."""

    async def add_batch_async(self, study_id: str, enrollment_id: str, batch_id: str, body: bytes, digest: str,
                              day: str) -> Stored:
        """:meth:`add_batch` for the event loop (the upload path); on a worker thread unless a backend
        has a native way."""
        return await anyio.to_thread.run_sync(self.add_batch, study_id, enrollment_id, batch_id, body, digest, day)

    async def start_async(self) -> None:
        """Called in the server's event loop before it serves (a backend may open async connections)."""

    async def close_async(self) -> None:
        """Called in the server's event loop when it stops."""

    @abc.abstractmethod
    def withdraw(self, study_id: str, enrollment_id: str, day: str) -> int | None:
        """Delete the enrollment's batches and leave a tombstone (once); the number of batches
        deleted, 0 if it had already left, None if there is no such enrollment."""

    @abc.abstractmethod
    def items(self, study_id: str, after: str | None, limit: int) -> Page:
        """The feed, oldest first, from just after ``after`` (a cursor from an earlier page).

        :class:`ValueError` if ``after`` is not a cursor. A row whose transaction commits
        late is never skipped: the feed shows only rows that can no longer be overtaken."""

    @abc.abstractmethod
    def purge(self, today: str) -> int:
        """Delete the bodies of batches older than their study's retention; how many."""

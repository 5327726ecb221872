"""The store's schema, its numbered migrations, and the SQLite connection.

Migrations are sqlite-utils migrations, recorded in ``_sqlite_migrations``; a
database that has migrations this build does not know was written by a newer
ime-agent and is refused with a message, never altered.

Durability and concurrency: WAL, ``synchronous=FULL`` (a summary reported as
committed survives a crash of the process *and* of the machine; one fsync per
commit is nothing at typing rates), ``busy_timeout`` so the agent and a command
can share a profile, every write in ``BEGIN IMMEDIATE`` so writers queue instead of
failing on a lock upgrade, and ``secure_delete`` with a WAL checkpoint after
deletions so deleted rows leave no trace in free pages or the WAL.

Tables:

- ``summaries``: ``id``, ``bucket``, ``intent``, ``model_id`` in the clear (deletion,
  retention and filters work without the key) and ``sealed``: app category,
  language, confidence and slots, sealed together (:mod:`.cipher`). No text column,
  no exact time.
- ``daily_counts``: ``(day, kind) -> count``; kind ``none`` counts segments of intent
  none, which are never stored themselves.
- ``consent``: append-only history of choices. ``settings``: key/value. ``audit``:
  append-only log of actions and counts, never content.
- ``studies``: the studies the profile joined (signed manifest, enrollment id, the
  categories chosen for it, sync state). ``device_keys``: each study's device
  signing key, sealed under the profile key.
- ``outbox``: one row per summary on its way to a study: held for review → sealed into
  a ``batches`` row (frozen bytes, so a retry sends the same) → sent → acknowledged,
  then deleted.
"""

from __future__ import annotations

import sqlite3
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlite_utils import Database, Migrations  # sqlite-utils >= 4.0

from ime_agent.errors import SchemaTooNew, StoreError

BUSY_TIMEOUT_MS = 15_000
MIGRATION_SET = "ime-agent"
migrations = Migrations(MIGRATION_SET)


@migrations()
def m001_initial(db: Database) -> None:
    db["summaries"].create(
        {"id": str, "bucket": str, "intent": str, "model_id": str,
         "app_category": bytes, "lang": bytes, "confidence": bytes, "slots": bytes},
        pk="id",
    )
    db["summaries"].create_index(["bucket"])
    db["summaries"].create_index(["intent"])
    db["daily_counts"].create({"day": str, "kind": str, "count": int}, pk=("day", "kind"))
    db["consent"].create({"id": int, "category": str, "granted": int, "version": str, "at": str}, pk="id")
    db["settings"].create({"key": str, "value": str}, pk="key")
    db["audit"].create({"id": int, "at": str, "event": str, "detail": str}, pk="id")
    for action in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER audit_no_{action.lower()} BEFORE {action} ON audit "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )
    db["outbox"].create(
        {"summary_id": str, "payload_version": int, "state": str, "attempts": int, "last_attempt": str},
        pk="summary_id",
    )
    db["settings"].insert({"key": "profile_id", "value": uuid.uuid4().hex})


@migrations()
def m002_sealed_rows_and_studies(db: Database) -> None:
    # Secret columns move into one padded, row-bound `sealed` value; rows of level 1 are
    # converted the first time the profile is opened with its key (the key is not needed here).
    db.execute("ALTER TABLE summaries ADD COLUMN sealed BLOB")
    # Level 1's outbox was a placeholder no study ever read: the study outbox replaces it.
    db["outbox"].drop()
    db["studies"].create({
        "study_id": str, "manifest": bytes, "enrollment_id": str, "categories": str, "joined_at": str,
        "left_at": str, "withdrawal_pending": int, "sent": int, "last_sync_at": str, "last_sync_outcome": str,
    }, pk="study_id", not_null={"manifest", "enrollment_id", "categories", "joined_at"},
        defaults={"sent": 0, "withdrawal_pending": 0})
    db["device_keys"].create({"study_id": str, "public_key": str, "sealed": bytes}, pk="study_id",
                             not_null={"public_key", "sealed"})
    db["batches"].create({
        "batch_id": str, "study_id": str, "upload": bytes, "plaintext_sha256": str, "summaries": int,
        "state": str, "attempts": int, "next_attempt_at": str, "sealed_at": str,
    }, pk="batch_id", not_null={"study_id", "upload", "state"}, defaults={"attempts": 0})
    db["outbox"].create({
        "summary_id": str, "study_id": str, "state": str, "held_until": str, "batch_id": str,
    }, pk=("summary_id", "study_id"), not_null={"state", "held_until"})
    db["outbox"].create_index(["study_id", "state", "held_until"])
    db["outbox"].create_index(["batch_id"])


#: The schema level of this build: the number of migrations it knows.
LEVEL = len(migrations._migrations)


def level(db: Database) -> int:
    return db.execute("SELECT count(*) FROM _sqlite_migrations WHERE migration_set = ?",
                      [MIGRATION_SET]).fetchone()[0]


def connect(path: Path) -> Database:
    """Open (creating) the database at ``path``, private, migrated to this build's level."""
    conn = None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        if sys.platform != "win32" and path.stat().st_mode & 0o077:
            path.chmod(0o600)  # the -wal and -shm files SQLite creates take the same mode
        db = Database(conn)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.enable_wal()
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA secure_delete = ON")
        with immediate(db):
            _refuse_newer(db, path)
            migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise StoreError(explain(path, exc)) from None
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    return db


def _refuse_newer(db: Database, path: Path) -> None:
    if "_sqlite_migrations" not in db.table_names():
        return
    known = {migration.name for migration in migrations._migrations}
    applied = {row[0] for row in db.execute(
        "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [MIGRATION_SET]).fetchall()}
    newer = sorted(applied - known)
    if newer:
        raise SchemaTooNew(f"the store {path} was written by a newer ime-agent (schema level {len(applied)}, "
                           f"this build knows {LEVEL}); upgrade ime-agent to open it")


@contextmanager
def immediate(db: Database) -> Iterator[None]:
    """A write transaction that takes the write lock at once (waiting up to the busy
    timeout for another process), so two writers queue instead of failing."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        raise StoreError(
            f"the store is busy: another ime-agent process has held it for over {BUSY_TIMEOUT_MS // 1000} s; try again"
        ) from None
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.conn.rollback()
        raise


@contextmanager
def sqlite_errors(path: Path) -> Iterator[None]:
    """Turn SQLite failures into one-line :class:`StoreError`s (SQLite's messages name no content)."""
    try:
        yield
    except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
        raise  # a bug in the caller, not a state of the store
    except sqlite3.DatabaseError as exc:
        raise StoreError(explain(path, exc)) from None


def explain(path: Path, exc: sqlite3.DatabaseError) -> str:
    message = str(exc)
    if "readonly" in message or "unable to open" in message or "permission" in message.lower():
        return (f"cannot write the store {path} ({message}); make its data dir and files writable by you "
                "(chmod u+rwX), or choose another with --data-dir")
    if "full" in message:
        return f"cannot write the store {path} ({message}); free some disk space and try again"
    if "locked" in message or "busy" in message:
        return (f"the store {path} is busy: another ime-agent process has held it for over "
                f"{BUSY_TIMEOUT_MS // 1000} s; try again")
    return (f"the store {path} is damaged ({message}); move the data dir away (or restore it from a backup) "
            "to start a new profile")

"""The storage logic in SQL, shared by both backends.

A backend supplies connections and transactions (:meth:`SqlStorage._transaction`)
and a few dialect words; everything the collector does is written here once, in
SQL both databases speak (``?`` placeholders become ``%s`` for PostgreSQL).
"""

from __future__ import annotations

import abc
import re
import secrets
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from ime_collector.errors import SchemaTooNew, StudyConflict
from ime_collector.storage import migrations
from ime_collector.storage.base import Enrolled, Enrollment, Item, Page, Storage, Stored

_CURSOR = re.compile(r"^(\d{1,19})\.(\d{1,19})$")


def parse_cursor(text: str | None) -> tuple[int, int]:
    """A feed cursor is ``XID.SEQ`` (XID is 0 on SQLite); opaque to clients."""
    if not text:
        return (-1, 0)
    match = _CURSOR.match(text)
    if not match:
        raise ValueError("'after' is not a cursor this collector gave out; start without it")
    return int(match[1]), int(match[2])


class Tx:
    """One transaction's cursor, with ``?`` placeholders whatever the database."""

    def __init__(self, cursor, postgres: bool):
        self.cursor = cursor
        self.postgres = postgres

    def run(self, sql: str, *params):
        if self.postgres:  # binary: a batch's bytes travel as they are, not as hex text
            self.cursor.execute(sql.replace("?", "%s"), params, binary=True)
        else:
            self.cursor.execute(sql, params)
        return self.cursor

    def one(self, sql: str, *params):
        return self.run(sql, *params).fetchone()

    def all(self, sql: str, *params) -> list:
        return self.run(sql, *params).fetchall()


class SqlStorage(Storage):
    #: Appended to a SELECT that must hold a row until commit ("" where writers are serialised).
    lock_share = ""
    lock_update = ""
    #: The oldest transaction still running, as an SQL expression (see :meth:`items`).
    oldest_running_xid = "1"

    @abc.abstractmethod
    @contextmanager
    def _transaction(self, write: bool):
        """Yield a :class:`Tx`; commit on success, roll back on error."""

    @contextmanager
    def _statement(self):
        """Yield a :class:`Tx` for a single write statement (its own transaction)."""
        with self._transaction(write=True) as tx:
            yield tx

    # -- schema --------------------------------------------------------------------------

    def _migrate(self, tx: Tx, dialect: str) -> None:
        """Bring the schema to :data:`migrations.LATEST` inside the caller's write transaction."""
        tx.run(migrations.CREATE_TABLE)
        level = tx.one(f"SELECT COALESCE(MAX(level), 0) FROM {migrations.TABLE}")[0]
        if level > migrations.LATEST:
            raise SchemaTooNew(f"the database is at schema level {level}, newer than this ime-collector "
                               f"knows (up to {migrations.LATEST}); upgrade ime-collector")
        for migration in migrations.MIGRATIONS[level:]:
            for statement in migration.statements(dialect):
                tx.run(statement)
            tx.run(f"INSERT INTO {migrations.TABLE} (level, name, applied) VALUES (?, ?, ?)",
                   migration.level, migration.name, datetime.now(UTC).date().isoformat())

    def schema_level(self) -> int:
        with self._transaction(write=False) as tx:
            return tx.one(f"SELECT COALESCE(MAX(level), 0) FROM {migrations.TABLE}")[0]

    def ping(self) -> None:
        with self._transaction(write=False) as tx:
            tx.one("SELECT 1")

    # -- studies and invites -------------------------------------------------------------

    def add_study(self, study_id: str, manifest: bytes, retention_days: int, day: str) -> bool:
        with self._transaction(write=True) as tx:
            row = tx.one(f"SELECT manifest FROM studies WHERE study_id = ?{self.lock_update}", study_id)
            if row is not None:
                if bytes(row[0]) == manifest:
                    return False
                raise StudyConflict(f"study {study_id} is already registered with a different manifest; "
                                    "a study's manifest cannot change (make a new study instead)")
            tx.run("INSERT INTO studies (study_id, manifest, retention_days, registered) VALUES (?, ?, ?, ?)",
                   study_id, manifest, retention_days, day)
            return True

    def study_manifest(self, study_id: str) -> bytes | None:
        with self._transaction(write=False) as tx:
            row = tx.one("SELECT manifest FROM studies WHERE study_id = ?", study_id)
        return None if row is None else bytes(row[0])

    def add_invites(self, study_id: str, codes: list[tuple[str, str]]) -> tuple[int, int]:
        registered = 0
        with self._transaction(write=True) as tx:
            for code_hash, expires in codes:
                registered += tx.run("INSERT INTO invites (study_id, code_hash, expires) VALUES (?, ?, ?) "
                                     "ON CONFLICT (study_id, code_hash) DO NOTHING",
                                     study_id, code_hash, expires).rowcount
        return registered, len(codes) - registered

    # -- enrollments ---------------------------------------------------------------------

    def enroll(self, study_id: str, code_hash: str, device_key: str, now: str, day: str) -> tuple[Enrolled, str | None]:
        with self._transaction(write=True) as tx:
            row = tx.one(f"SELECT expires, enrollment_id FROM invites WHERE study_id = ? AND code_hash = ?"
                         f"{self.lock_update}", study_id, code_hash)
            if row is None:
                return Enrolled.UNKNOWN_CODE, None
            expires, used_by = row
            if used_by is not None:
                key, withdrawn = tx.one("SELECT device_key, withdrawn FROM enrollments WHERE enrollment_id = ?",
                                        used_by)
                if key != device_key:
                    return Enrolled.CODE_USED, None
                return (Enrolled.WITHDRAWN, None) if withdrawn else (Enrolled.AGAIN, used_by)
            if expires <= now:
                return Enrolled.UNKNOWN_CODE, None
            enrollment_id = secrets.token_hex(16)
            tx.run("INSERT INTO enrollments (enrollment_id, study_id, device_key, enrolled) VALUES (?, ?, ?, ?)",
                   enrollment_id, study_id, device_key, day)
            tx.run("UPDATE invites SET enrollment_id = ? WHERE study_id = ? AND code_hash = ?",
                   enrollment_id, study_id, code_hash)
            return Enrolled.CREATED, enrollment_id

    def enrollment(self, enrollment_id: str) -> Enrollment | None:
        with self._transaction(write=False) as tx:
            row = tx.one("SELECT study_id, enrollment_id, device_key, enrolled, withdrawn FROM enrollments "
                         "WHERE enrollment_id = ?", enrollment_id)
        return None if row is None else Enrollment(*row)

    def withdraw(self, study_id: str, enrollment_id: str, day: str) -> int | None:
        with self._transaction(write=True) as tx:
            row = tx.one(f"SELECT withdrawn FROM enrollments WHERE enrollment_id = ? AND study_id = ?"
                         f"{self.lock_update}", enrollment_id, study_id)
            if row is None:
                return None
            if row[0] is not None:
                return 0
            tx.run("UPDATE enrollments SET withdrawn = ? WHERE enrollment_id = ?", day, enrollment_id)
            deleted = tx.all("DELETE FROM items WHERE enrollment_id = ? AND kind = 'batch' "
                             "RETURNING body IS NOT NULL", enrollment_id)
            tx.run("INSERT INTO items (study_id, kind, enrollment_id, day) VALUES (?, 'tombstone', ?, ?)",
                   study_id, enrollment_id, day)
        return sum(1 for (kept,) in deleted if kept)

    # -- batches and the feed --------------------------------------------------------------

    def _insert_batch(self) -> str:
        """Insert a batch if its enrollment is current, in one statement. The enrollment's row is
        locked (shared) until commit, so a withdrawal waits for this upload (and then deletes it)
        or this upload waits for the withdrawal (and then sees it): never a batch after a tombstone."""
        return ("INSERT INTO items (study_id, kind, enrollment_id, batch_id, digest, body, day) "
                "SELECT ?, 'batch', ?, ?, ?, ?, ? FROM enrollments "
                "WHERE enrollment_id = ? AND study_id = ? AND withdrawn IS NULL"
                f"{self.lock_share} ON CONFLICT (study_id, batch_id) DO NOTHING RETURNING seq")

    def add_batch(self, study_id: str, enrollment_id: str, batch_id: str, body: bytes, digest: str,
                  day: str) -> Stored:
        with self._statement() as tx:
            inserted = tx.one(self._insert_batch(), study_id, enrollment_id, batch_id, digest, body, day,
                              enrollment_id, study_id)
        return Stored.STORED if inserted is not None else self._not_stored(study_id, batch_id, digest)

    def _not_stored(self, study_id: str, batch_id: str, digest: str) -> Stored:
        """Why an upload was not inserted: a known batch id, or no current enrollment."""
        with self._transaction(write=False) as tx:
            existing = tx.one("SELECT digest FROM items WHERE study_id = ? AND batch_id = ?", study_id, batch_id)
        if existing is not None:
            return Stored.DUPLICATE if existing[0] == digest else Stored.CONFLICT
        return Stored.NOT_ENROLLED

    def items(self, study_id: str, after: str | None, limit: int) -> Page:
        xid, seq = parse_cursor(after)
        # Rows are ordered by (writing transaction, sequence) and shown only once every
        # transaction that could still add an earlier row has ended, so a page never
        # passes a row that commits later.
        with self._transaction(write=False) as tx:
            rows = tx.all(
                "SELECT i.xid, i.seq, i.kind, i.enrollment_id, i.day, i.body, e.device_key "
                "FROM items i JOIN enrollments e ON e.enrollment_id = i.enrollment_id "
                "WHERE i.study_id = ? AND (i.xid > ? OR (i.xid = ? AND i.seq > ?)) "
                f"AND i.xid < {self.oldest_running_xid} AND (i.kind = 'tombstone' OR i.body IS NOT NULL) "
                "ORDER BY i.xid, i.seq LIMIT ?", study_id, xid, xid, seq, limit + 1)
        items = [Item(f"{x}.{s}", kind, eid, day, None if body is None else bytes(body),
                      key if kind == "batch" else None)
                 for x, s, kind, eid, day, body, key in rows[:limit]]
        return Page(items, items[-1].cursor if items else (after or ""), len(rows) > limit)

    def purge(self, today: str) -> int:
        purged = 0
        with self._transaction(write=True) as tx:
            for study_id, days in tx.all("SELECT study_id, retention_days FROM studies"):
                cutoff = (date.fromisoformat(today) - timedelta(days=days)).isoformat()
                purged += tx.run("UPDATE items SET body = NULL WHERE study_id = ? AND kind = 'batch' "
                                 "AND body IS NOT NULL AND day < ?", study_id, cutoff).rowcount
        return purged

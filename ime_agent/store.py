"""The local store: one SQLite database per profile, through sqlite-utils.

Tables (schema changes are sqlite-utils migrations, recorded in ``_sqlite_migrations``):

- ``summaries``: one row per kept summary. ``id``, ``bucket`` (start of its
  15-minute window, UTC), ``intent`` and ``model_id`` are plain so that
  deletion, retention and filters work without the key; ``app_category``,
  ``lang``, ``confidence`` and ``slots`` are AES-GCM sealed, bound to
  ``summaries/<id>/<column>``. There is no text column: the store has no way to
  hold typed text. No exact time is kept either, only the bucket.
- ``daily_counts``: ``(day, kind) -> count``; kind ``none`` counts segments of
  intent none, which are never stored themselves.
- ``consent``: append-only history of choices (category, granted, text version, time).
- ``settings``: key/value (``paused_until``, key source, key check, KDF salt, profile id).
- ``audit``: append-only (triggers refuse UPDATE and DELETE) log of consent,
  pause, resume, deletions, exports and retention purges. Never content.
- ``outbox``: one row per summary waiting for sync (``payload_version`` 1).

Durability and concurrency: WAL, ``synchronous=FULL`` (a summary reported as
committed survives a crash of the process *and* of the machine; the cost, one
fsync per commit, is nothing at typing rates), ``busy_timeout`` so the agent and
a CLI command can use one profile at once, and every write in ``BEGIN
IMMEDIATE`` so two writers queue instead of failing on a lock upgrade.
``secure_delete`` and a WAL checkpoint after deletions leave no deleted rows in
free pages or the WAL.

One connection may be shared by threads (the tray and the capture thread): each
public method holds a lock.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import re
import sqlite3
import sys
import threading
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterator

from sqlite_utils import Database, Migrations  # sqlite-utils >= 4.0

from ime_agent import crypto
from ime_wire.summary import Summary
from ime_wire.timebucket import bucket_of, iso, parse_iso
from ime_agent.errors import ImeAgentError

DB_NAME = "ime-agent.db"
BUSY_TIMEOUT_MS = 15_000
ENCRYPTED = ("app_category", "lang", "confidence", "slots")
PAUSED_FOREVER = "until-resume"
EXPORT_FORMATS = ("jsonl", "csv")


class StoreError(ImeAgentError):
    """The store cannot be opened or used as asked."""


@dataclass(frozen=True)
class PausedState:
    paused: bool
    until: datetime | None = None  # None while paused means "until resume"


def utcnow() -> datetime:
    return datetime.now(UTC)


def profile_dir(base: Path, profile: str | None = None) -> Path:
    """The data dir of a profile: ``base`` itself for the default one, ``<base>-<name>`` for
    another (``IME_AGENT_PROFILE=testing`` keeps trial data apart from real data)."""
    profile = profile or os.environ.get("IME_AGENT_PROFILE")
    if not profile or profile == "default":
        return Path(base)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", profile):
        raise StoreError(f"bad profile name {profile!r}: use lower-case letters, digits, - and _ (e.g. testing)")
    return Path(base).with_name(f"{Path(base).name}-{profile}")


# --- schema -----------------------------------------------------------------------------

migrations = Migrations("ime-agent")


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


def _locked(method):
    """Hold the store's lock, and turn SQLite failures into one-line :class:`StoreError`s."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock, _sqlite_errors(self.data_dir / DB_NAME):
            return method(self, *args, **kwargs)

    return wrapper


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
        raise  # a bug in the caller, not a state of the store
    except sqlite3.DatabaseError as exc:  # SQLite messages name no content, only the problem
        raise StoreError(_explain(path, exc)) from None


def _explain(path: Path, exc: sqlite3.DatabaseError) -> str:
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


class Store:
    """A profile's store. Open with :meth:`open`; close when done (or use ``with``)."""

    def __init__(self, db: Database, data_dir: Path, cipher: crypto.Cipher, clock: Callable[[], datetime],
                 retention_days: int | None = 30):
        self.db = db
        self.data_dir = data_dir
        self.retention_days = retention_days
        self._cipher = cipher
        self._clock = clock
        self._lock = threading.RLock()

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        data_dir: Path | str,
        *,
        key_source: str | None = None,
        passphrase: str | None = None,
        prompt: Callable[[bool], str] | None = None,
        retention_days: int | None = 30,
        clock: Callable[[], datetime] = utcnow,
    ) -> "Store":
        """Open (creating if needed) the profile in ``data_dir``.

        ``key_source`` matters only when the profile is new (default: env
        ``IME_AGENT_KEY_SOURCE``; else ``passphrase`` if ``IME_AGENT_PASSPHRASE``
        is set; else the OS keyring if one works; else a key file).
        ``prompt(new)`` asks for a passphrase (``new``: first time, confirm it).
        Summaries older than ``retention_days`` are deleted on open, and again
        whenever :meth:`apply_retention` is called (``None``: keep everything).
        """
        data_dir = Path(data_dir)
        if data_dir.exists() and not data_dir.is_dir():
            raise StoreError(f"data dir {data_dir} is a file, not a directory; choose another with --data-dir")
        try:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"cannot create data dir {data_dir} ({exc.strerror}); choose another with --data-dir") from None
        if not os.access(data_dir, os.R_OK | os.W_OK | os.X_OK):
            raise StoreError(f"data dir {data_dir} is not readable and writable by you; fix its permissions "
                             f"(chmod u+rwx {data_dir}) or choose another with --data-dir")
        db = _connect(data_dir / DB_NAME)
        try:
            with _sqlite_errors(data_dir / DB_NAME):
                cipher = _Keys(db, data_dir, key_source, passphrase, prompt).cipher()
        except BaseException:
            db.close()
            raise
        store = cls(db, data_dir, cipher, clock, retention_days)
        try:
            store.apply_retention()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write(self):
        return _immediate(self.db)

    def _checkpoint(self) -> None:
        """Move deletions out of the WAL into the (secure-deleted) main file."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass  # another process is busy; its own checkpoint will follow

    # -- settings and audit --------------------------------------------------------------

    @_locked
    def setting(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def _audit(self, event: str, **detail) -> None:
        self.db["audit"].insert({"at": iso(self._clock()), "event": event, "detail": json.dumps(detail, sort_keys=True)})

    @_locked
    def audit(self, event: str, **detail) -> None:
        """Append to the audit log (events and counts only, never content)."""
        with self._write():
            self._audit(event, **detail)

    @_locked
    def audit_log(self) -> list[dict]:
        return [
            {"at": r["at"], "event": r["event"], "detail": json.loads(r["detail"])}
            for r in self.db["audit"].rows_where(order_by="id")
        ]

    # -- pause ---------------------------------------------------------------------------

    @_locked
    def pause(self, seconds: float | None = None) -> PausedState:
        """Pause for ``seconds``, or until :meth:`resume` when ``None``."""
        until = None if seconds is None else self._clock() + timedelta(seconds=seconds)
        value = PAUSED_FOREVER if until is None else iso(until)
        with self._write():
            self.db["settings"].upsert({"key": "paused_until", "value": value}, pk="key")
            self._audit("pause", until=value)
        return PausedState(True, until)

    @_locked
    def resume(self) -> None:
        with self._write():
            self.db.execute("DELETE FROM settings WHERE key = 'paused_until'")
            self._audit("resume")

    @_locked
    def data_version(self) -> int:
        """A number that changes whenever another connection (the CLI) commits; reads no table,
        so a long-running agent can poll it cheaply and re-read the store only on change."""
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    @_locked
    def paused_state(self) -> PausedState:
        """Cheap enough to poll every second: one indexed read, no writes."""
        row = self.db.execute("SELECT value FROM settings WHERE key = 'paused_until'").fetchone()
        if row is None:
            return PausedState(False)
        if row[0] == PAUSED_FOREVER:
            return PausedState(True)
        until = parse_iso(row[0])
        return PausedState(True, until) if until > self._clock() else PausedState(False)

    # -- consent -------------------------------------------------------------------------

    @_locked
    def consent_state(self) -> dict[str, bool]:
        """The latest choice per category that has one."""
        rows = self.db.execute(
            "SELECT category, granted FROM consent WHERE id IN (SELECT max(id) FROM consent GROUP BY category)"
        ).fetchall()
        return {category: bool(granted) for category, granted in rows}

    @_locked
    def consent_records(self) -> list[dict]:
        return list(self.db["consent"].rows_where(order_by="id"))

    @_locked
    def set_consent(self, choices: dict[str, bool], version: str) -> dict[str, int]:
        """Record choices; a withdrawal deletes what is stored under it, in the same transaction.

        Returns the number of summaries deleted per withdrawn category.
        """
        at = iso(self._clock())
        deleted: dict[str, int] = {}
        with self._write():
            for category, granted in choices.items():
                self.db["consent"].insert({"category": category, "granted": int(granted), "version": version, "at": at})
                if granted:
                    self._audit("consent_given", category=category, version=version)
                else:
                    deleted[category] = self._delete("intent = ?", [category])
                    self._audit("consent_withdrawn", category=category, version=version, deleted=deleted[category])
        if any(deleted.values()):
            self._checkpoint()
        return deleted

    # -- summaries -----------------------------------------------------------------------

    def _seal(self, summary_id: str, column: str, value) -> bytes:
        return self._cipher.seal(json.dumps(value).encode(), f"summaries/{summary_id}/{column}".encode())

    def _unseal(self, summary_id: str, column: str, value: bytes):
        return json.loads(self._cipher.open(value, f"summaries/{summary_id}/{column}".encode()))

    @_locked
    def add_summary(self, summary: Summary) -> bool:
        """Store ``summary`` if its category is consented *now* (checked inside the write).

        Returns False (nothing written) when it is not. Queues it in the outbox.
        """
        row = {"id": summary.id, "bucket": summary.bucket, "intent": summary.intent, "model_id": summary.model_id}
        for column in ENCRYPTED:
            row[column] = self._seal(summary.id, column, getattr(summary, column))
        with self._write():
            granted = self.db.execute(
                "SELECT granted FROM consent WHERE category = ? ORDER BY id DESC LIMIT 1", [summary.intent]
            ).fetchone()
            if not (granted and granted[0]):
                return False
            self.db["summaries"].insert(row)
            self.db["outbox"].insert({"summary_id": summary.id, "payload_version": 1, "state": "pending", "attempts": 0})
        return True

    @_locked
    def add_count(self, day: str, kind: str, n: int = 1) -> None:
        if n <= 0:
            return
        with self._write():
            self.db.execute(
                "INSERT INTO daily_counts (day, kind, count) VALUES (?, ?, ?) "
                "ON CONFLICT (day, kind) DO UPDATE SET count = count + excluded.count",
                [day, kind, n],
            )

    @_locked
    def summaries(self, *, since: datetime | None = None, category: str | None = None) -> list[Summary]:
        where, args = _filter(since=since, category=category)
        result = []
        for row in self.db["summaries"].rows_where(where or None, args, order_by="bucket, rowid"):
            values = {column: self._unseal(row["id"], column, row[column]) for column in ENCRYPTED}
            result.append(Summary(id=row["id"], bucket=row["bucket"], intent=row["intent"], model_id=row["model_id"], **values))
        return result

    @_locked
    def has_summary(self, summary_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM summaries WHERE id = ?", [summary_id]).fetchone() is not None

    def _today(self) -> str:
        return iso(self._clock().replace(hour=0, minute=0, second=0, microsecond=0))

    @_locked
    def today_count(self) -> int:
        """Summaries kept today (UTC): what the tray shows after every commit."""
        return self.db.execute("SELECT count(*) FROM summaries WHERE bucket >= ?", [self._today()]).fetchone()[0]

    @_locked
    def counts(self) -> dict:
        """``{"by_category": {intent: n}, "today": n, "none_today": n, "total": n}`` (today in UTC)."""
        today = self._today()
        by_category = dict(self.db.execute("SELECT intent, count(*) FROM summaries GROUP BY intent").fetchall())
        in_today = self.today_count()
        none_today = self.db.execute(
            "SELECT coalesce(sum(count), 0) FROM daily_counts WHERE day = ? AND kind = 'none'", [today[:10]]
        ).fetchone()[0]
        return {"by_category": by_category, "total": sum(by_category.values()), "today": in_today, "none_today": none_today}

    # -- deletion ------------------------------------------------------------------------

    def _delete(self, where: str, args: list) -> int:
        self.db.execute(f"DELETE FROM outbox WHERE summary_id IN (SELECT id FROM summaries WHERE {where})", args)
        return self.db.execute(f"DELETE FROM summaries WHERE {where}", args).rowcount

    @_locked
    def forget(self, *, everything: bool = False, category: str | None = None, since: datetime | None = None) -> int:
        """Delete summaries (all, one category, or from ``since`` on); returns how many."""
        if not (everything or category or since):
            raise StoreError("say what to forget: --all, --category C or --since T")
        where, args = ("1", []) if everything else _filter(since=since, category=category)
        scope = "all" if everything else {"category": category, "since": since and iso(since)}
        with self._write():
            n = self._delete(where, args)
            if everything:
                self.db.execute("DELETE FROM daily_counts")
            self._audit("forget", scope=scope, deleted=n)
        self._checkpoint()
        return n

    def apply_retention(self) -> int:
        """Delete what is older than the profile's retention (as opened); returns summaries deleted.

        Done on open; a long-running agent calls it now and then (cheap when there is nothing to do).
        """
        return 0 if self.retention_days is None else self.purge_expired(self.retention_days)

    @_locked
    def purge_expired(self, retention_days: int) -> int:
        cutoff = iso(self._clock() - timedelta(days=retention_days))
        if not (self.db.execute("SELECT 1 FROM summaries WHERE bucket < ? LIMIT 1", [cutoff]).fetchone()
                or self.db.execute("SELECT 1 FROM daily_counts WHERE day < ? LIMIT 1", [cutoff[:10]]).fetchone()):
            return 0
        with self._write():
            n = self._delete("bucket < ?", [cutoff])
            self.db.execute("DELETE FROM daily_counts WHERE day < ?", [cutoff[:10]])
            self._audit("retention_purge", retention_days=retention_days, deleted=n)
        self._checkpoint()
        return n

    # -- export --------------------------------------------------------------------------

    @_locked
    def export(self, path: Path, fmt: str) -> int:
        """Write the user's own summaries (decrypted) to ``path``, mode 0600."""
        if fmt not in EXPORT_FORMATS:
            raise StoreError(f"unknown export format {fmt!r}; use jsonl or csv")
        rows = [s.to_dict() for s in self.summaries()]
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            if sys.platform != "win32":
                os.fchmod(fd, 0o600)  # the mode above applies only to a new file
            with open(fd, "w", encoding="utf-8", newline="") as out:
                if fmt == "jsonl":
                    for row in rows:
                        out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                else:
                    writer = csv.DictWriter(out, fieldnames=list(Summary.__dataclass_fields__))
                    writer.writeheader()
                    for row in rows:
                        writer.writerow({**row, "slots": json.dumps(row["slots"], ensure_ascii=False, sort_keys=True)})
        except OSError as exc:
            raise StoreError(f"cannot write {path} ({exc.strerror}); choose another file with -o") from None
        self.audit("export", format=fmt, rows=len(rows))
        return len(rows)


def _filter(*, since: datetime | None, category: str | None) -> tuple[str, list]:
    clauses, args = [], []
    if since is not None:
        # A bucket stands for its whole window: include the one `since` falls in.
        clauses.append("bucket >= ?")
        args.append(bucket_of(since))
    if category is not None:
        clauses.append("intent = ?")
        args.append(category)
    return " AND ".join(clauses), args


# --- connection and key -----------------------------------------------------------------


def _connect(path: Path) -> Database:
    conn = None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        if sys.platform != "win32" and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # the -wal and -shm files SQLite creates take the same mode
        db = Database(conn)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.enable_wal()
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA secure_delete = ON")
        with _immediate(db):
            migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise StoreError(_explain(path, exc)) from None
    return db


@contextmanager
def _immediate(db: Database) -> Iterator[None]:
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
        db.rollback()
        raise


class _Keys:
    """Find (or, for a new profile, create) the key and check it against the store."""

    def __init__(self, db, data_dir, source, passphrase, prompt):
        self.db, self.data_dir, self.source, self.passphrase, self.prompt = db, data_dir, source, passphrase, prompt

    def _get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def cipher(self) -> crypto.Cipher:
        # A new profile's key is used as made: asking for it again would re-prompt and re-derive.
        key = self._create() if self._get("key_source") is None else None
        source = self._get("key_source")
        cipher = crypto.Cipher(key or self._load(source))
        hints = {
            "passphrase": "wrong passphrase for this profile; set IME_AGENT_PASSPHRASE (or type at the prompt) "
                          "the passphrase used when the profile was created",
            "file": f"key file {self.data_dir / crypto.KEY_FILE} does not belong to this profile; restore the right one",
            "keyring": "the OS keyring holds another key for this profile; restore the right one",
        }
        cipher.verify(bytes.fromhex(self._get("key_check")), hints[source])
        return cipher

    def _choose(self) -> str:
        source = self.source or os.environ.get("IME_AGENT_KEY_SOURCE")
        if source:
            if source not in crypto.SOURCES:
                raise crypto.KeyUnavailable(f"unknown key source {source!r}; use keyring, file or passphrase")
            return source
        if os.environ.get("IME_AGENT_PASSPHRASE"):
            return "passphrase"
        return "keyring" if crypto.keyring_usable() else "file"

    def _create(self) -> bytes | None:
        """Make and record the key; ``None`` if another process created the profile meanwhile."""
        source = self._choose()
        passphrase = self._passphrase(new=True) if source == "passphrase" else None
        with _immediate(self.db):
            if self._get("key_source") is None:  # nobody else created it meanwhile
                if source == "passphrase":
                    salt = crypto.new_salt()
                    key = crypto.derive_key(passphrase, salt)
                    self._put("kdf", json.dumps({"salt": salt.hex(), **crypto.ARGON2_PARAMS}))
                else:
                    key = crypto.new_key()
                    if source == "keyring" and not crypto.keyring_set(self._get("profile_id"), key):
                        source = "file"
                    if source == "file":
                        key = self._new_key_file(key)
                self._put("key_source", source)
                self._put("key_check", crypto.Cipher(key).check_value().hex())
                return key
        return None

    def _new_key_file(self, key: bytes) -> bytes:
        path = self.data_dir / crypto.KEY_FILE
        try:
            crypto.write_key_file(path, key)
        except FileExistsError:
            # Left by a first open that died before recording it; nothing was sealed with it yet.
            return crypto.read_key_file(path)
        return key

    def _put(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [key, value])

    def _load(self, source: str) -> bytes:
        if source == "file":
            return crypto.read_key_file(self.data_dir / crypto.KEY_FILE)
        if source == "keyring":
            key = crypto.keyring_get(self._get("profile_id"))
            if key is None:
                raise crypto.KeyUnavailable(
                    "this profile's key is not available from the OS keyring (service ime-agent); unlock the "
                    "keyring and try again, or move the data dir away to start a new profile"
                )
            return key
        kdf = json.loads(self._get("kdf"))
        salt = bytes.fromhex(kdf.pop("salt"))
        return crypto.derive_key(self._passphrase(new=False), salt, kdf)

    def _passphrase(self, new: bool) -> str:
        passphrase = self.passphrase or os.environ.get("IME_AGENT_PASSPHRASE")
        if not passphrase and self.prompt is not None:
            passphrase = self.prompt(new)
        if not passphrase:
            raise crypto.KeyUnavailable(
                "this profile is protected by a passphrase: set IME_AGENT_PASSPHRASE, or run the command "
                "in a terminal to be asked for it"
            )
        return passphrase

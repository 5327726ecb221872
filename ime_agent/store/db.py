"""A profile's store: one SQLite database (through sqlite-utils), behind this one class.

What each table holds is in :mod:`.schema`; how rows are sealed in :mod:`.cipher`;
where the key comes from in :mod:`.keys`. Everything that only counts, filters
or deletes works without the key (``Store.open(..., unlock=False)``): a
participant can always delete, withdraw and pause, even when the keyring is
locked or the passphrase forgotten.

One connection may be shared by threads (the tray and the capture thread): each
public method holds a lock.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Callable

from sqlite_utils import Database

from ime_agent import defaults
from ime_agent.errors import KeyUnavailable, StoreError
from ime_agent.store import export as export_writers
from ime_agent.store import schema
from ime_agent.store.cipher import Cipher, Damaged
from ime_agent.store.keys import ProfileKey
from ime_agent.store.paths import DB_NAME, prepare_data_dir
from ime_wire.errors import InvalidSummary
from ime_wire.summary import Summary, validate
from ime_wire.timebucket import bucket_of, iso, parse_iso

log = logging.getLogger(__name__)

PAUSED_FOREVER = "until-resume"
SECRET = ("app_category", "lang", "confidence", "slots")
#: What :meth:`Store.add_summary` did.
STORED, NO_CONSENT, PAUSED = "stored", "no_consent", "paused"
#: How far ahead of the clock a bucket may lie (the current window itself starts in the past).
_FUTURE_SLACK = timedelta(minutes=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PausedState:
    paused: bool
    until: datetime | None = None  # None while paused means "until resume"


def _locked(method):
    """Hold the store's lock, and turn SQLite failures into one-line :class:`StoreError`s."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock, schema.sqlite_errors(self.data_dir / DB_NAME):
            return method(self, *args, **kwargs)

    return wrapper


class Store:
    """A profile's store. Open with :meth:`open`; close when done (or use ``with``)."""

    def __init__(self, db: Database, data_dir: Path, cipher: Cipher | None, clock: Callable[[], datetime],
                 retention_days: int | None):
        self._db = db
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
        prompt: Callable[[bool], str | None] | None = None,
        retention_days: int | None = defaults.RETENTION_DAYS,
        clock: Callable[[], datetime] = utcnow,
        unlock: bool = True,
    ) -> "Store":
        """Open (creating if needed) the profile in ``data_dir``.

        ``key_source`` matters only when the profile is new (default: env
        ``IME_AGENT_KEY_SOURCE``; else ``passphrase`` if ``IME_AGENT_PASSPHRASE`` is
        set; else the OS keyring if one works; else a key file). ``prompt(new)`` asks
        for a passphrase. With ``unlock=False`` an existing profile is opened without
        its key: counting, pausing, consent and deleting work; reading summaries does
        not. Summaries older than ``retention_days`` are deleted on open (``None``:
        keep everything). A new profile whose key cannot be made leaves nothing behind.
        """
        data_dir = Path(data_dir)
        made_dir = prepare_data_dir(data_dir)
        path = data_dir / DB_NAME
        new_db = not path.exists()
        db = schema.connect(path)
        try:
            with schema.sqlite_errors(path):
                cipher = cls._key(db, data_dir, key_source, passphrase, prompt, unlock)
                store = cls(db, data_dir, cipher, clock, retention_days)
                if cipher is not None:
                    store._upgrade_rows()
                store.apply_retention()
        except BaseException:
            db.close()
            if new_db:
                _remove_new_profile(data_dir, path, made_dir)
            raise
        return store

    @staticmethod
    def _key(db: Database, data_dir: Path, key_source, passphrase, prompt, unlock: bool) -> Cipher | None:
        def get(name: str) -> str | None:
            row = db.execute("SELECT value FROM settings WHERE key = ?", [name]).fetchone()
            return row[0] if row else None

        def put(name: str, value: str) -> None:
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [name, value])

        key = ProfileKey(data_dir, get, put, source=key_source, passphrase=passphrase, prompt=prompt)
        if key.is_new:
            with schema.immediate(db):
                if key.is_new:  # nobody else created it meanwhile
                    has_data = db.execute("SELECT EXISTS (SELECT 1 FROM summaries)").fetchone()[0]
                    return key.create(bool(has_data))
        return key.load() if unlock else None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def now(self) -> datetime:
        """The store's clock (a test's, or the real UTC time)."""
        return self._clock()

    @property
    def unlocked(self) -> bool:
        return self._cipher is not None

    def _need_key(self) -> Cipher:
        if self._cipher is None:
            raise KeyUnavailable("this needs the profile key, and the store was opened without it")
        return self._cipher

    def _write(self):
        return schema.immediate(self._db)

    def _checkpoint(self) -> None:
        """Move deletions out of the WAL into the (secure-deleted) main file."""
        with contextlib.suppress(Exception):  # another process is busy; its own checkpoint will follow
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _upgrade_rows(self) -> None:
        """Seal rows of schema level 1 (one value per column) the level-2 way (one padded value per row)."""
        with self._lock, self._write():
            old = self._db.execute(
                "SELECT id, bucket, intent, model_id, app_category, lang, confidence, slots "
                "FROM summaries WHERE sealed IS NULL").fetchall()
            for summary_id, bucket, intent, model_id, *columns in old:
                try:
                    secret = {name: json.loads(self._cipher.open(value, f"summaries/{summary_id}/{name}".encode()))
                              for name, value in zip(SECRET, columns)}
                except (Damaged, ValueError):
                    continue  # damaged already: reported as such when read
                plain = {"id": summary_id, "bucket": bucket, "intent": intent, "model_id": model_id}
                self._db.execute(
                    "UPDATE summaries SET sealed = ?, app_category = NULL, lang = NULL, confidence = NULL, "
                    "slots = NULL WHERE id = ?", [self._cipher.seal_row("summaries", plain, secret), summary_id])

    # -- settings, schema and audit ------------------------------------------------------

    @_locked
    def setting(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    @_locked
    def schema_level(self) -> int:
        return schema.level(self._db)

    @_locked
    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def _audit(self, event: str, **detail) -> None:
        self._db["audit"].insert({"at": iso(self._clock()), "event": event,
                                  "detail": json.dumps(detail, sort_keys=True)})

    @_locked
    def audit(self, event: str, **detail) -> None:
        """Append to the audit log (events and counts only, never content)."""
        with self._write():
            self._audit(event, **detail)

    @_locked
    def audit_log(self) -> list[dict]:
        rows = self._db.execute("SELECT at, event, detail FROM audit ORDER BY id").fetchall()
        return [{"at": at, "event": event, "detail": _json_or_none(detail)} for at, event, detail in rows]

    # -- pause ---------------------------------------------------------------------------

    @_locked
    def pause(self, seconds: float | None = None) -> PausedState:
        """Pause for ``seconds``, or until :meth:`resume` when ``None``."""
        until = None if seconds is None else self._clock() + timedelta(seconds=seconds)
        value = PAUSED_FOREVER if until is None else iso(until)
        with self._write():
            self._db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('paused_until', ?)", [value])
            self._audit("pause", until=value)
        return PausedState(True, until)

    @_locked
    def resume(self) -> None:
        with self._write():
            self._db.execute("DELETE FROM settings WHERE key = 'paused_until'")
            self._audit("resume")

    @_locked
    def data_version(self) -> int:
        """A number that changes whenever another connection (the CLI) commits; reads no table,
        so a long-running agent can poll it cheaply and re-read the store only on change."""
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    @_locked
    def paused_state(self) -> PausedState:
        """Cheap enough to poll every second: one indexed read, no writes."""
        return self._paused_state()

    def _paused_state(self) -> PausedState:
        row = self._db.execute("SELECT value FROM settings WHERE key = 'paused_until'").fetchone()
        if row is None:
            return PausedState(False)
        if row[0] == PAUSED_FOREVER:
            return PausedState(True)
        try:
            until = parse_iso(row[0])
        except (ValueError, TypeError, AttributeError):
            return PausedState(True)  # a damaged pause setting: stay paused until resumed (fail closed)
        return PausedState(True, until) if until > self._clock() else PausedState(False)

    # -- consent -------------------------------------------------------------------------

    @_locked
    def consent_state(self) -> dict[str, bool]:
        """The latest choice per category that has one."""
        rows = self._db.execute(
            "SELECT category, granted FROM consent WHERE id IN (SELECT max(id) FROM consent GROUP BY category)"
        ).fetchall()
        return {category: bool(granted) for category, granted in rows}

    @_locked
    def consent_records(self) -> list[dict]:
        rows = self._db.execute("SELECT id, category, granted, version, at FROM consent ORDER BY id").fetchall()
        return [dict(zip(("id", "category", "granted", "version", "at"), row)) for row in rows]

    @_locked
    def set_consent(self, choices: dict[str, bool], version: str) -> dict[str, int]:
        """Record choices; a withdrawal deletes what is stored under it (and its unsent uploads),
        in the same transaction. Returns the number of summaries deleted per withdrawn category."""
        at = iso(self._clock())
        deleted: dict[str, int] = {}
        with self._write():
            for category, granted in choices.items():
                self._db.execute("INSERT INTO consent (category, granted, version, at) VALUES (?, ?, ?, ?)",
                                 [category, int(granted), version, at])
                if granted:
                    self._audit("consent_given", category=category, version=version)
                else:
                    deleted[category] = self._delete("intent = ?", [category])
                    self._audit("consent_withdrawn", category=category, version=version, deleted=deleted[category])
        if any(deleted.values()):
            self._checkpoint()
        return deleted

    # -- summaries -----------------------------------------------------------------------

    @_locked
    def add_summary(self, summary: Summary) -> str:
        """Store ``summary`` if its category is consented and the profile is not paused *now*
        (both checked inside the write); queue it for the studies that collect it.

        Returns :data:`STORED`, :data:`NO_CONSENT` or :data:`PAUSED` (nothing written then).
        A summary outside the vocabulary, or in a bucket that has not begun, is refused."""
        try:
            validate(summary, sendable=True)
        except InvalidSummary as exc:
            raise StoreError(f"refusing to store an invalid summary ({exc})") from None
        now = self._clock()
        if parse_iso(summary.bucket) > now + _FUTURE_SLACK:
            raise StoreError(f"refusing a summary in a future bucket ({summary.bucket}); check the system clock")
        cipher = self._need_key()
        plain = {"id": summary.id, "bucket": summary.bucket, "intent": summary.intent, "model_id": summary.model_id}
        sealed = cipher.seal_row("summaries", plain, {name: getattr(summary, name) for name in SECRET})
        with self._write():
            granted = self._db.execute(
                "SELECT granted FROM consent WHERE category = ? ORDER BY id DESC LIMIT 1", [summary.intent]
            ).fetchone()
            if not (granted and granted[0]):
                return NO_CONSENT
            if self._paused_state().paused:
                return PAUSED
            self._db.execute("INSERT INTO summaries (id, bucket, intent, model_id, sealed) VALUES (?, ?, ?, ?, ?)",
                             [summary.id, summary.bucket, summary.intent, summary.model_id, sealed])
            self._queue_for_studies(summary, now)
        return STORED

    @_locked
    def add_count(self, day: str, kind: str, n: int = 1) -> None:
        if n <= 0:
            return
        with self._write():
            self._db.execute(
                "INSERT INTO daily_counts (day, kind, count) VALUES (?, ?, ?) "
                "ON CONFLICT (day, kind) DO UPDATE SET count = count + excluded.count",
                [day, kind, n],
            )

    @_locked
    def count_of(self, kind: str, day: str | None = None) -> int:
        """Segments counted (not stored) of ``kind`` (``none``), on ``day`` or in all."""
        where, args = ("kind = ?", [kind]) if day is None else ("kind = ? AND day = ?", [kind, day])
        return self._db.execute(f"SELECT coalesce(sum(count), 0) FROM daily_counts WHERE {where}", args).fetchone()[0]

    @_locked
    def read_summaries(self, *, since: datetime | None = None, category: str | None = None,
                       ids: list[str] | None = None) -> tuple[list[Summary], int]:
        """``(summaries, damaged)``: rows that do not open or validate are skipped and counted,
        so one damaged row never hides the rest."""
        cipher = self._need_key()
        where, args = _filter(since=since, category=category)
        if ids is not None:
            where = " AND ".join(filter(None, [where, f"id IN ({', '.join('?' * len(ids))})"]))
            args = [*args, *ids]
        rows = self._db.execute(
            f"SELECT id, bucket, intent, model_id, sealed FROM summaries {'WHERE ' + where if where else ''} "
            "ORDER BY bucket, rowid", args).fetchall()
        result, damaged = [], 0
        for summary_id, bucket, intent, model_id, sealed in rows:
            plain = {"id": summary_id, "bucket": bucket, "intent": intent, "model_id": model_id}
            try:
                secret = cipher.open_row("summaries", plain, sealed)
                summary = Summary(id=summary_id, bucket=bucket, intent=intent, model_id=model_id,
                                  **{name: secret[name] for name in SECRET})
                validate(summary, sendable=True)
            except (Damaged, KeyError, TypeError, InvalidSummary):
                damaged += 1
                continue
            result.append(summary)
        return result, damaged

    def summaries(self, *, since: datetime | None = None, category: str | None = None) -> list[Summary]:
        return self.read_summaries(since=since, category=category)[0]

    @_locked
    def has_summary(self, summary_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM summaries WHERE id = ?", [summary_id]).fetchone() is not None

    def _today(self) -> str:
        return iso(self._clock().replace(hour=0, minute=0, second=0, microsecond=0))

    @_locked
    def today_count(self) -> int:
        """Summaries kept today (UTC): what the tray shows after every commit."""
        return self._db.execute("SELECT count(*) FROM summaries WHERE bucket >= ?", [self._today()]).fetchone()[0]

    @_locked
    def counts(self) -> dict:
        """``{"by_category": {intent: n}, "today": n, "none_today": n, "total": n}`` (today in UTC)."""
        by_category = dict(self._db.execute("SELECT intent, count(*) FROM summaries GROUP BY intent").fetchall())
        return {"by_category": by_category, "total": sum(by_category.values()), "today": self.today_count(),
                "none_today": self.count_of("none", self._today()[:10])}

    # -- deletion (no key needed) --------------------------------------------------------

    def _delete(self, where: str, args: list) -> int:
        """Delete summaries and everything on their way out (held or sealed, not yet sent)."""
        ids = [row[0] for row in self._db.execute(f"SELECT id FROM summaries WHERE {where}", args).fetchall()]
        self._drop_unsent(ids)
        return self._db.execute(f"DELETE FROM summaries WHERE {where}", args).rowcount

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
                self._db.execute("DELETE FROM daily_counts")
            self._audit("forget", scope=scope, deleted=n)
        self._checkpoint()
        return n

    def apply_retention(self) -> int:
        """Delete what is older than the profile's retention (as opened); returns summaries deleted."""
        return 0 if self.retention_days is None else self.purge_expired(self.retention_days)

    @_locked
    def purge_expired(self, retention_days: int) -> int:
        cutoff = iso(self._clock() - timedelta(days=retention_days))
        if not (self._db.execute("SELECT 1 FROM summaries WHERE bucket < ? LIMIT 1", [cutoff]).fetchone()
                or self._db.execute("SELECT 1 FROM daily_counts WHERE day < ? LIMIT 1", [cutoff[:10]]).fetchone()):
            return 0
        with self._write():
            unsent = self._db.execute(
                "SELECT count(*) FROM outbox JOIN summaries ON summaries.id = outbox.summary_id "
                "WHERE summaries.bucket < ? AND outbox.state IN ('held', 'sealed')", [cutoff]).fetchone()[0]
            n = self._delete("bucket < ?", [cutoff])
            self._db.execute("DELETE FROM daily_counts WHERE day < ?", [cutoff[:10]])
            self._audit("retention_purge", retention_days=retention_days, deleted=n)
            if unsent:  # never silent: what expired before it could be sent is a counted loss
                self._audit("sync_loss", reason="expired before upload", summaries=unsent)
        self._checkpoint()
        return n

    # -- export --------------------------------------------------------------------------

    def export(self, path: Path | str, fmt: str) -> int:
        """Write the user's own summaries (decrypted) to ``path`` (``-``: standard output), mode 0600."""
        if fmt not in export_writers.FORMATS:
            raise StoreError(f"unknown export format {fmt!r}; use jsonl or csv")
        rows = [s.to_dict() for s in self.summaries()]
        with export_writers.private_file(path) as out:
            export_writers.write(rows, out, fmt)
        self.audit("export", format=fmt, rows=len(rows))
        return len(rows)

    # -- studies, device keys and the outbox (the sync side lives in ime_agent.sync) -----------

    @_locked
    def add_study(self, *, study_id: str, manifest: bytes, enrollment_id: str, categories: tuple[str, ...],
                  device_public: str, device_private: bytes) -> None:
        """Record a joined study and its device key (sealed under the profile key)."""
        cipher = self._need_key()
        sealed_key = cipher.seal(device_private, f"device_keys/{study_id}/{device_public}".encode())
        with self._write():
            row = self._db.execute("SELECT left_at, withdrawal_pending FROM studies WHERE study_id = ?",
                                   [study_id]).fetchone()
            if row is not None and (row[0] is None or row[1]):
                raise StoreError("this profile is already in that study (or still leaving it); see "
                                 "`ime-agent study status`")
            self._db.execute("DELETE FROM studies WHERE study_id = ?", [study_id])  # left before: join anew
            self._db.execute(
                "INSERT INTO studies (study_id, manifest, enrollment_id, categories, joined_at, sent) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                [study_id, manifest, enrollment_id, json.dumps(list(categories)), iso(self._clock())])
            self._db.execute("INSERT OR REPLACE INTO device_keys (study_id, public_key, sealed) VALUES (?, ?, ?)",
                             [study_id, device_public, sealed_key])
            self._audit("study_joined", study=study_id, categories=list(categories))

    @_locked
    def studies(self, *, active: bool = True) -> list[dict]:
        rows = self._db.execute(
            "SELECT study_id, manifest, enrollment_id, categories, joined_at, left_at, withdrawal_pending, sent, "
            f"last_sync_at, last_sync_outcome FROM studies {'WHERE left_at IS NULL' if active else ''} "
            "ORDER BY joined_at").fetchall()
        names = ("study_id", "manifest", "enrollment_id", "categories", "joined_at", "left_at", "withdrawal_pending",
                 "sent", "last_sync_at", "last_sync_outcome")
        result = []
        for row in rows:
            record = dict(zip(names, row))
            record["categories"] = tuple(_json_or_none(record["categories"]) or ())
            result.append(record)
        return result

    @_locked
    def device_key(self, study_id: str) -> tuple[str, bytes]:
        """``(public key, private key bytes)`` of the device key made for ``study_id``."""
        cipher = self._need_key()
        row = self._db.execute("SELECT public_key, sealed FROM device_keys WHERE study_id = ?", [study_id]).fetchone()
        if row is None:
            raise StoreError(f"no device key for study {study_id}; join the study again")
        try:
            return row[0], cipher.open(row[1], f"device_keys/{study_id}/{row[0]}".encode())
        except Damaged:
            raise StoreError(f"the device key for study {study_id} is damaged; leave and join the study again") from None

    @_locked
    def leave_study(self, study_id: str) -> int:
        """Mark the study left and drop everything waiting for it: nothing more is sent from now on. The
        device key stays until the collector has confirmed the withdrawal (:meth:`withdrawal_done`).
        Returns the unsent summaries dropped."""
        with self._write():
            dropped = self._db.execute("DELETE FROM outbox WHERE study_id = ?", [study_id]).rowcount
            self._db.execute("DELETE FROM batches WHERE study_id = ?", [study_id])
            self._db.execute("UPDATE studies SET left_at = ?, withdrawal_pending = 1 WHERE study_id = ? "
                             "AND left_at IS NULL", [iso(self._clock()), study_id])
            self._audit("study_left", study=study_id, unsent_dropped=dropped)
        self._checkpoint()
        return dropped

    @_locked
    def withdrawal_done(self, study_id: str, deleted_batches: int) -> None:
        """The collector deleted what it held for this device: forget the device key too."""
        with self._write():
            self._db.execute("UPDATE studies SET withdrawal_pending = 0 WHERE study_id = ?", [study_id])
            self._db.execute("DELETE FROM device_keys WHERE study_id = ?", [study_id])
            self._audit("study_withdrawal_confirmed", study=study_id, deleted_batches=deleted_batches)

    @_locked
    def batch_summary_ids(self, batch_id: str) -> list[str]:
        return [row[0] for row in self._db.execute(
            "SELECT summary_id FROM outbox WHERE batch_id = ? ORDER BY summary_id", [batch_id]).fetchall()]

    @_locked
    def held(self, study_id: str) -> list[tuple[str, str]]:
        """``(summary id, due)`` of everything held for review, oldest due first."""
        return [tuple(row) for row in self._db.execute(
            "SELECT summary_id, held_until FROM outbox WHERE study_id = ? AND state = 'held' "
            "ORDER BY held_until, summary_id", [study_id]).fetchall()]

    @_locked
    def drop_from_outbox(self, study_id: str, summary_ids: list[str], reason: str) -> None:
        """Summaries that cannot be sent (damaged): out of the outbox, counted as a loss, never silent."""
        with self._write():
            for chunk in _chunks(summary_ids, 500):
                self._db.execute(f"DELETE FROM outbox WHERE study_id = ? AND state = 'held' AND summary_id IN "
                                 f"({', '.join('?' * len(chunk))})", [study_id, *chunk])
            self._audit("sync_loss", study=study_id, reason=reason, summaries=len(summary_ids))

    def _queue_for_studies(self, summary: Summary, now: datetime) -> None:
        """Inside add_summary's write: one outbox row per active study that collects this category."""
        for study_id, manifest, categories in self._db.execute(
                "SELECT study_id, manifest, categories FROM studies WHERE left_at IS NULL").fetchall():
            if summary.intent not in (_json_or_none(categories) or ()):
                continue
            hold = _review_hold(manifest)
            self._db.execute("INSERT OR IGNORE INTO outbox (summary_id, study_id, state, held_until) "
                             "VALUES (?, ?, 'held', ?)", [summary.id, study_id, iso(now + timedelta(seconds=hold))])

    def _drop_unsent(self, summary_ids: list[str]) -> None:
        """Summaries are being deleted: nothing of them may leave. Batches not yet sent that hold
        any of them are discarded; their other summaries go back to held (due at once)."""
        for chunk in _chunks(summary_ids, 500):
            marks = ", ".join("?" * len(chunk))
            batches = [row[0] for row in self._db.execute(
                f"SELECT DISTINCT batch_id FROM outbox WHERE summary_id IN ({marks}) AND state = 'sealed'",
                chunk).fetchall()]
            for batch_id in batches:
                self._db.execute("UPDATE outbox SET state = 'held', batch_id = NULL WHERE batch_id = ?", [batch_id])
                self._db.execute("DELETE FROM batches WHERE batch_id = ?", [batch_id])
            self._db.execute(f"DELETE FROM outbox WHERE summary_id IN ({marks}) AND state != 'sent'", chunk)

    @_locked
    def outbox_counts(self, study_id: str | None = None) -> dict[str, int]:
        """Summaries per outbox state (``held``, ``sealed``, ``sent``), for one study or all."""
        where, args = ("WHERE study_id = ?", [study_id]) if study_id else ("", [])
        rows = self._db.execute(f"SELECT state, count(*) FROM outbox {where} GROUP BY state", args).fetchall()
        return {state: n for state, n in rows}

    @_locked
    def due_for_upload(self, study_id: str, now: datetime, limit: int) -> list[str]:
        """Ids of held summaries whose review hold is over, oldest first."""
        rows = self._db.execute(
            "SELECT summary_id FROM outbox WHERE study_id = ? AND state = 'held' AND held_until <= ? "
            "ORDER BY held_until, summary_id LIMIT ?", [study_id, iso(now), limit]).fetchall()
        return [row[0] for row in rows]

    @_locked
    def seal_batch(self, *, study_id: str, batch_id: str, upload: bytes, plaintext_sha256: str,
                   summary_ids: list[str]) -> bool:
        """Freeze a batch: its bytes are stored and its summaries move from held to sealed, in one
        transaction. False (nothing written) if any of them was deleted or sealed meanwhile."""
        with self._write():
            marks = ", ".join("?" * len(summary_ids))
            held = self._db.execute(
                f"SELECT count(*) FROM outbox WHERE study_id = ? AND state = 'held' AND summary_id IN ({marks})",
                [study_id, *summary_ids]).fetchone()[0]
            if held != len(summary_ids):
                return False
            self._db.execute(
                "INSERT INTO batches (batch_id, study_id, upload, plaintext_sha256, summaries, state, attempts, "
                "next_attempt_at, sealed_at) VALUES (?, ?, ?, ?, ?, 'sealed', 0, ?, ?)",
                [batch_id, study_id, upload, plaintext_sha256, len(summary_ids), iso(self._clock()),
                 iso(self._clock())])
            self._db.execute(
                f"UPDATE outbox SET state = 'sealed', batch_id = ? WHERE study_id = ? AND summary_id IN ({marks})",
                [batch_id, study_id, *summary_ids])
        return True

    @_locked
    def batches_to_send(self, study_id: str, now: datetime | None = None) -> list[dict]:
        """Sealed or sent-but-unacknowledged batches due for an attempt (all of them when ``now`` is None)."""
        args: list = [study_id]
        due = ""
        if now is not None:
            due, args = " AND next_attempt_at <= ?", [study_id, iso(now)]
        rows = self._db.execute(
            "SELECT batch_id, upload, plaintext_sha256, summaries, state, attempts FROM batches "
            f"WHERE study_id = ? AND state IN ('sealed', 'sent'){due} ORDER BY sealed_at, batch_id", args).fetchall()
        names = ("batch_id", "upload", "plaintext_sha256", "summaries", "state", "attempts")
        return [dict(zip(names, row)) for row in rows]

    @_locked
    def mark_sent(self, batch_id: str) -> None:
        """The batch's bytes went out (an answer may still be lost): it will be retried, never resealed."""
        with self._write():
            self._db.execute("UPDATE batches SET state = 'sent', attempts = attempts + 1 WHERE batch_id = ?",
                             [batch_id])
            self._db.execute("UPDATE outbox SET state = 'sent' WHERE batch_id = ?", [batch_id])

    @_locked
    def mark_retry(self, batch_id: str, next_attempt_at: datetime) -> None:
        with self._write():
            self._db.execute("UPDATE batches SET next_attempt_at = ? WHERE batch_id = ?",
                             [iso(next_attempt_at), batch_id])

    @_locked
    def mark_acknowledged(self, batch_id: str) -> int:
        """The collector has the batch: its outbox rows go, and they count as sent. Returns how many."""
        with self._write():
            row = self._db.execute("SELECT study_id, summaries FROM batches WHERE batch_id = ?", [batch_id]).fetchone()
            if row is None:
                return 0
            study_id, n = row
            self._db.execute("DELETE FROM outbox WHERE batch_id = ?", [batch_id])
            self._db.execute("DELETE FROM batches WHERE batch_id = ?", [batch_id])
            self._db.execute("UPDATE studies SET sent = sent + ? WHERE study_id = ?", [n, study_id])
        return n

    @_locked
    def record_sync(self, study_id: str, outcome: str) -> None:
        with self._write():
            self._db.execute("UPDATE studies SET last_sync_at = ?, last_sync_outcome = ? WHERE study_id = ?",
                             [iso(self._clock()), outcome, study_id])


def _review_hold(manifest: bytes) -> int:
    try:
        hold = json.loads(manifest)["manifest"]["review_hold_seconds"]
        return hold if isinstance(hold, int) and hold >= 0 else 0
    except (ValueError, KeyError, TypeError):
        return 0


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _json_or_none(text):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


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


def _remove_new_profile(data_dir: Path, db_path: Path, made_dir: bool) -> None:
    """A new profile whose setup failed: remove what this open made, so no half-made profile remains."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            Path(f"{db_path}{suffix}").unlink()
    if made_dir:
        with contextlib.suppress(OSError):
            data_dir.rmdir()  # only if empty

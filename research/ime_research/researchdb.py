"""The research database: what ``ime-research pull`` has verified, opened and kept.

One SQLite file inside the study directory (``DIR/research.db``, mode 0600: it
holds decrypted summaries). It records every batch seen (so a batch id is stored
once), each batch's valid summaries, the enrollments' device keys, tombstones,
the feed cursor, pipeline counters, a log of pulls and the DP budget ledger.

A batch's summaries are kept together as one Arrow IPC stream (one row per
summary, columns :data:`SUMMARY_SCHEMA`): every reader wants all summaries as
columns, so storing them that way makes loading a million summaries a matter of
concatenating buffers, and deleting a withdrawn participant a matter of deleting
their batches' rows.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ime_wire import vocabulary

FILE_NAME = "research.db"

#: One row per summary, as kept for a batch; slots not filled are null.
SUMMARY_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("bucket", pa.int64()),  # start of the 15-minute window, Unix seconds (UTC)
    ("app_category", pa.string()),
    ("lang", pa.string()),
    ("intent", pa.string()),
    ("confidence", pa.float64()),
    ("model_id", pa.string()),
    *[(name, pa.string()) for name in vocabulary.SLOTS],
])

#: Pipeline counters, cumulative over every pull.
COUNTERS = ("batches", "summaries", "duplicates", "bad_signatures", "unopened", "out_of_vocabulary",
            "tombstones", "withdrawn_batches")

_MIGRATIONS = (
    """
    CREATE TABLE state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE enrollments (enrollment_id TEXT PRIMARY KEY, device_key TEXT NOT NULL);
    CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY,
        enrollment_id TEXT NOT NULL,
        received TEXT NOT NULL,          -- the day the collector received it, YYYY-MM-DD
        summaries INTEGER NOT NULL,      -- valid summaries kept
        data BLOB                        -- those summaries, Arrow IPC (SUMMARY_SCHEMA), null when none
    );
    CREATE INDEX batches_enrollment ON batches (enrollment_id);
    CREATE TABLE tombstones (enrollment_id TEXT PRIMARY KEY, withdrawn TEXT NOT NULL);
    CREATE TABLE pulls (id INTEGER PRIMARY KEY, finished TEXT NOT NULL, counts TEXT NOT NULL);
    CREATE TABLE releases (
        id INTEGER PRIMARY KEY,
        released TEXT NOT NULL,          -- when, UTC
        mechanism TEXT NOT NULL,
        epsilon REAL NOT NULL,
        delta REAL NOT NULL,
        bounds TEXT NOT NULL,            -- JSON: the declared contribution bounds
        query TEXT NOT NULL,             -- JSON: what was counted, by which period
        budget REAL NOT NULL,            -- the study's total epsilon
        remaining REAL NOT NULL          -- epsilon left after this release
    );
    """,
)


@dataclass(frozen=True)
class Participation:
    """One enrollment's uploads, for compliance tables."""

    enrollment_id: str
    batches: int
    summaries: int
    by_day: dict[str, int]  # day the collector received batches (YYYY-MM-DD) -> summaries in them, sorted


class ResearchDB:
    def __init__(self, path: Path):
        self.path = Path(path)
        new = not self.path.exists()
        if new:  # private from the first byte: it will hold decrypted summaries
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    @classmethod
    def in_study(cls, study_dir: Path) -> "ResearchDB":
        return cls(Path(study_dir) / FILE_NAME)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "ResearchDB":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in filter(str.strip, script.split(";")):  # no ";" inside statements or comments
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self):
        """One write transaction, taken at once so a concurrent writer waits rather than fails later."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- feed state ---------------------------------------------------------------------

    def cursor(self) -> str | None:
        row = self.conn.execute("SELECT value FROM state WHERE name = 'cursor'").fetchone()
        return row[0] if row else None

    def set_cursor(self, value: str | None) -> None:
        if value is not None:
            self.conn.execute("INSERT OR REPLACE INTO state VALUES ('cursor', ?)", (value,))

    def counters(self) -> dict[str, int]:
        stored = dict(self.conn.execute("SELECT name, value FROM counters"))
        return {name: stored.get(name, 0) for name in COUNTERS}

    def add_counts(self, counts: dict[str, int]) -> None:
        self.conn.executemany(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            [(name, n) for name, n in counts.items() if n])

    def log_pull(self, counts: dict[str, int], finished: datetime) -> None:
        self.conn.execute("INSERT INTO pulls (finished, counts) VALUES (?, ?)",
                          (finished.astimezone(UTC).isoformat(timespec="seconds"),
                           json.dumps(counts, sort_keys=True)))

    def pulls(self) -> list[tuple[str, dict[str, int]]]:
        return [(finished, json.loads(counts))
                for finished, counts in self.conn.execute("SELECT finished, counts FROM pulls ORDER BY id")]

    # -- batches, enrollments, tombstones -------------------------------------------------

    def seen_batch_ids(self, batch_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(batch_ids), 500):
            chunk = batch_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self.conn.execute(
                f"SELECT batch_id FROM batches WHERE batch_id IN ({marks})", chunk))
        return found

    def device_keys(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT enrollment_id, device_key FROM enrollments"))

    def withdrawn(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT enrollment_id FROM tombstones")}

    def add_enrollment(self, enrollment_id: str, device_key: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO enrollments VALUES (?, ?)", (enrollment_id, device_key))

    def add_batch(self, batch_id: str, enrollment_id: str, received: str, summaries: pa.Table | None) -> None:
        rows = summaries.num_rows if summaries is not None else 0
        self.conn.execute("INSERT INTO batches VALUES (?, ?, ?, ?, ?)",
                          (batch_id, enrollment_id, received, rows, _ipc(summaries) if rows else None))

    def apply_tombstone(self, enrollment_id: str, withdrawn: str) -> bool:
        """Delete everything kept of this enrollment and remember it left; False if already applied."""
        if self.conn.execute("INSERT OR IGNORE INTO tombstones VALUES (?, ?)",
                             (enrollment_id, withdrawn)).rowcount == 0:
            return False
        self.conn.execute("DELETE FROM batches WHERE enrollment_id = ?", (enrollment_id,))
        self.conn.execute("DELETE FROM enrollments WHERE enrollment_id = ?", (enrollment_id,))
        return True

    # -- reading --------------------------------------------------------------------------

    def load_summaries(self) -> pa.Table:
        """Every kept summary, with an ``enrollment_id`` column (dictionary-encoded)."""
        tables, enrollments, run_ends, index_of = [], [], [], {}
        total = 0
        for enrollment_id, data in self.conn.execute(
                "SELECT enrollment_id, data FROM batches WHERE summaries > 0 ORDER BY batch_id"):
            table = pa.ipc.open_stream(data).read_all()
            tables.append(table)
            total += table.num_rows
            run_ends.append(total)
            enrollments.append(index_of.setdefault(enrollment_id, len(index_of)))
        if not tables:
            return SUMMARY_SCHEMA.empty_table().append_column(
                "enrollment_id", pa.array([], pa.dictionary(pa.int32(), pa.string())))
        table = pa.concat_tables(tables).combine_chunks()
        # one enrollment per batch: expand the batches' run lengths to one index per row
        indices = pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(pa.array(run_ends, pa.int32()),
                                                                      pa.array(enrollments, pa.int32())))
        column = pa.DictionaryArray.from_arrays(indices, pa.array(list(index_of), pa.string()))
        return table.append_column("enrollment_id", column)

    def participation(self) -> list[Participation]:
        rows: dict[str, list] = {}
        for enrollment_id, received, summaries in self.conn.execute(
                "SELECT enrollment_id, received, summaries FROM batches ORDER BY enrollment_id, received"):
            entry = rows.setdefault(enrollment_id, [0, 0, {}])
            entry[0] += 1
            entry[1] += summaries
            entry[2][received] = entry[2].get(received, 0) + summaries
        return [Participation(e, b, s, days) for e, (b, s, days) in sorted(rows.items())]

    # -- the DP ledger ----------------------------------------------------------------------

    def releases(self) -> list[dict]:
        columns = ("id", "released", "mechanism", "epsilon", "delta", "bounds", "query", "budget", "remaining")
        out = []
        for row in self.conn.execute(f"SELECT {', '.join(columns)} FROM releases ORDER BY id"):
            entry = dict(zip(columns, row))
            entry["bounds"], entry["query"] = json.loads(entry["bounds"]), json.loads(entry["query"])
            out.append(entry)
        return out

    def epsilon_spent(self) -> float:
        return self.conn.execute("SELECT COALESCE(SUM(epsilon), 0) FROM releases").fetchone()[0]

    def record_release(self, *, released: datetime, mechanism: str, epsilon: float, delta: float,
                       bounds: dict, query: dict, budget: float, remaining: float) -> None:
        self.conn.execute(
            "INSERT INTO releases (released, mechanism, epsilon, delta, bounds, query, budget, remaining) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (released.astimezone(UTC).isoformat(timespec="seconds"), mechanism, epsilon, delta,
             json.dumps(bounds, sort_keys=True), json.dumps(query, sort_keys=True), budget, remaining))


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()

"""The collector's schema as numbered migrations, the same list for SQLite and PostgreSQL.

Each migration is SQL written once, with a few words filled in per dialect
(:data:`DIALECTS`). The level reached is recorded in the database itself
(``ime_collector_migrations``); a database at a level this build does not know
was migrated by a newer ime-collector and is refused, never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    level: int
    name: str
    sql: str  # statements separated by ";", with {placeholders} from DIALECTS

    def statements(self, dialect: str) -> list[str]:
        text = self.sql.format(**DIALECTS[dialect])
        return [s.strip() for s in text.split(";") if s.strip()]


DIALECTS = {
    "sqlite": {
        "blob": "BLOB",
        "seq": "INTEGER PRIMARY KEY AUTOINCREMENT",
        # SQLite serialises writers, so the sequence alone orders the feed (see Storage.items).
        "xid": "INTEGER NOT NULL DEFAULT 0",
    },
    "postgresql": {
        "blob": "BYTEA",
        "seq": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        # The writing transaction's id, so the feed can wait for transactions still running.
        "xid": "BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)",
    },
}

TABLE = "ime_collector_migrations"
CREATE_TABLE = f"CREATE TABLE IF NOT EXISTS {TABLE} (level INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)"

MIGRATIONS = (
    Migration(1, "studies, invites, enrollments, feed items", """
        CREATE TABLE studies (
            study_id TEXT PRIMARY KEY,
            manifest {blob} NOT NULL,
            retention_days INTEGER NOT NULL,
            registered TEXT NOT NULL
        );
        CREATE TABLE invites (
            study_id TEXT NOT NULL REFERENCES studies (study_id),
            code_hash TEXT NOT NULL,
            expires TEXT NOT NULL,
            enrollment_id TEXT,
            PRIMARY KEY (study_id, code_hash)
        );
        CREATE TABLE enrollments (
            enrollment_id TEXT PRIMARY KEY,
            study_id TEXT NOT NULL REFERENCES studies (study_id),
            device_key TEXT NOT NULL,
            enrolled TEXT NOT NULL,
            withdrawn TEXT
        );
        CREATE TABLE items (
            seq {seq},
            xid {xid},
            study_id TEXT NOT NULL REFERENCES studies (study_id),
            kind TEXT NOT NULL CHECK (kind IN ('batch', 'tombstone')),
            enrollment_id TEXT NOT NULL REFERENCES enrollments (enrollment_id),
            batch_id TEXT,
            digest TEXT,
            body {blob},
            day TEXT NOT NULL
        );
        CREATE UNIQUE INDEX items_batch ON items (study_id, batch_id);
        CREATE INDEX items_feed ON items (study_id, xid, seq);
        CREATE INDEX items_enrollment ON items (enrollment_id)
    """),
)

LATEST = MIGRATIONS[-1].level

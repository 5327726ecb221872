"""The collector's settings: every default defined once, the environment read only here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

#: Where the database is (``sqlite:///relative``, ``sqlite:////absolute`` or ``postgresql://…``).
DB_ENV = "IME_COLLECTOR_DB"
RATE_BURST_ENV = "IME_COLLECTOR_RATE_BURST"
RATE_PER_MINUTE_ENV = "IME_COLLECTOR_RATE_PER_MINUTE"
POOL_SIZE_ENV = "IME_COLLECTOR_POOL_SIZE"
#: TEST ONLY. The path of a file: when a batch commits while that file exists, the file is
#: removed and the process exits at once, before answering (a crash between commit and reply).
TEST_CRASH_FILE_ENV = "IME_COLLECTOR_TEST_CRASH_FILE"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8470
#: Uploads one enrollment may make at once, then per minute: an agent back from a week
#: offline sends a few batches; anything far above that is a broken or hostile client.
DEFAULT_RATE_BURST = 60
DEFAULT_RATE_PER_MINUTE = 30
#: PostgreSQL connections per server process.
DEFAULT_POOL_SIZE = 8
#: The largest request body (an upload, an invite list); see ime_wire.envelope.MAX_UPLOAD_BYTES.
MAX_BODY_BYTES = 1024 * 1024


def default_database_url() -> str:
    """A SQLite file in the user's data directory (``/var/lib/ime-collector`` under the systemd unit)."""
    return "sqlite:///" + str(Path(platformdirs.user_data_dir("ime-collector")) / "collector.db")


@dataclass(frozen=True)
class Settings:
    database_url: str
    rate_burst: int = DEFAULT_RATE_BURST
    rate_per_minute: float = DEFAULT_RATE_PER_MINUTE
    pool_size: int = DEFAULT_POOL_SIZE
    test_crash_file: str | None = None

    @classmethod
    def from_environment(cls, environ=os.environ, database_url: str | None = None) -> "Settings":
        """``database_url`` (the ``--db`` option) wins over the environment, which wins over the default."""
        return cls(
            database_url=database_url or environ.get(DB_ENV) or default_database_url(),
            rate_burst=_number(environ, RATE_BURST_ENV, DEFAULT_RATE_BURST, int),
            rate_per_minute=_number(environ, RATE_PER_MINUTE_ENV, DEFAULT_RATE_PER_MINUTE, float),
            pool_size=_number(environ, POOL_SIZE_ENV, DEFAULT_POOL_SIZE, int),
            test_crash_file=environ.get(TEST_CRASH_FILE_ENV) or None,
        )


def _number(environ, name: str, default, kind):
    text = environ.get(name)
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name} must be a positive number, not {text!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be a positive number, not {text!r}")
    return value

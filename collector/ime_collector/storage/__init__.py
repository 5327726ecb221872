"""Storage: :func:`open_storage` turns a database URL into a migrated :class:`Storage`.

``sqlite:///relative/path``, ``sqlite:////absolute/path`` or ``postgresql://…``
(any libpq URI; ``postgres://`` too).
"""

from __future__ import annotations

import re
from pathlib import Path

from ime_collector.errors import DatabaseURLError
from ime_collector.storage.base import Enrolled, Enrollment, Item, Page, Storage, Stored

__all__ = ["open_storage", "redact", "Storage", "Enrolled", "Enrollment", "Item", "Page", "Stored"]


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):]
    if not path or path.endswith("/"):
        raise DatabaseURLError(f"{url!r} names no file: use sqlite:///relative/file.db or "
                               "sqlite:////absolute/file.db")
    return Path(path)


def redact(url: str) -> str:
    """The URL as it may be shown: without its password."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def open_storage(url: str, pool_size: int = 8, create_directory: bool = False) -> Storage:
    """Open (and migrate) the database at ``url``; ``create_directory``: make a SQLite file's directory."""
    path = _sqlite_path(url)
    if path is not None:
        from ime_collector.storage.sqlite import SqliteStorage  # noqa: PLC0415
        if create_directory:
            path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteStorage(path)
    if url.startswith(("postgresql://", "postgres://")):
        from ime_collector.storage.postgres import PostgresStorage  # noqa: PLC0415
        return PostgresStorage(url, pool_size=pool_size)
    raise DatabaseURLError("the database URL must start with sqlite:/// (a file) or postgresql:// "
                           "(e.g. sqlite:////var/lib/ime-collector/collector.db)")

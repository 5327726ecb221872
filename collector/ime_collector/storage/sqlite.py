"""SQLite backend: one file, nothing to set up; WAL, and writers serialised by ``BEGIN IMMEDIATE``.

Each thread gets its own connection (the server runs storage calls on a thread
pool); writers in one process queue on a lock. ``synchronous=FULL``: an upload is
acknowledged only once it is on disk. One server process is the right size for
SQLite; several processes want PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from ime_collector.errors import StorageError
from ime_collector.storage.sql import SqlStorage, Tx

BUSY_TIMEOUT_MS = 30_000


class SqliteStorage(SqlStorage):
    kind = "sqlite"

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise StorageError(f"the directory {self.path.parent} does not exist; create it or choose "
                               "another --db path")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        try:
            with self._transaction(write=True) as tx:
                self._migrate(tx, "sqlite")
        except BaseException:
            self.close()
            raise

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                             timeout=BUSY_TIMEOUT_MS / 1000)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                connection.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open the SQLite database {self.path}: {exc}") from None
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _transaction(self, write: bool):
        if not write:
            with self._open_transaction(write=False) as tx:
                yield tx
            return
        # Writers queue here rather than in SQLite's busy handler, which sleeps and retries
        # (long tail latencies); other processes on the same file still meet the busy handler.
        with self._write_lock, self._open_transaction(write=True) as tx:
            yield tx

    @contextmanager
    def _open_transaction(self, write: bool):
        connection = self._connection()
        try:
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise StorageError(f"the SQLite database {self.path} is not usable: {exc}") from None
        try:
            yield Tx(connection.cursor(), postgres=False)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        try:
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot write to the SQLite database {self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()

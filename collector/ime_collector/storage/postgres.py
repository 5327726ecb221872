"""PostgreSQL backend (psycopg 3 with a connection pool): several collector processes, one database.

Transactions run at READ COMMITTED with explicit row locks where two requests
could race (a join code used twice, an upload beside a withdrawal). Every feed
row records the id of the transaction that wrote it; the feed shows a row only
once every older transaction has ended (``pg_snapshot_xmin``), so a cursor never
passes a row that commits late.
"""

from __future__ import annotations

from contextlib import contextmanager

import anyio.to_thread
import psycopg
import psycopg_pool

from ime_collector.errors import StorageError
from ime_collector.storage import redact
from ime_collector.storage.base import Stored
from ime_collector.storage.sql import SqlStorage, Tx

CONNECT_TIMEOUT_S = 10
#: Serialises migrations when several processes start at once.
MIGRATION_LOCK = 0x696D655F636F6C  # "ime_col"


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class PostgresStorage(SqlStorage):
    kind = "postgresql"
    lock_share = " FOR SHARE"
    lock_update = " FOR UPDATE"
    oldest_running_xid = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint)"

    def __init__(self, url: str, pool_size: int = 8):
        self.url = url
        self.pool_size = max(1, pool_size)
        self._async_pool: psycopg_pool.AsyncConnectionPool | None = None
        try:  # once directly first: a wrong URL fails at once, with libpq's own words
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg.Error as exc:
            raise StorageError(f"cannot connect to PostgreSQL at {redact(url)}: {_one_line(exc)}") from None
        self._pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=self.pool_size, open=False,
                                                 timeout=CONNECT_TIMEOUT_S, name="ime-collector",
                                                 kwargs={"autocommit": True})
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except psycopg_pool.PoolTimeout:
            self._pool.close()
            raise StorageError(f"cannot connect to PostgreSQL at {redact(url)}") from None
        try:
            with self._transaction(write=True) as tx:
                tx.run("SELECT pg_advisory_xact_lock(?)", MIGRATION_LOCK)
                self._migrate(tx, "postgresql")
        except BaseException:
            self.close()
            raise

    @contextmanager
    def _transaction(self, write: bool):
        try:
            with self._pool.connection() as connection, connection.transaction(), connection.cursor() as cursor:
                yield Tx(cursor, postgres=True)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StorageError(f"PostgreSQL is not reachable: {_one_line(exc)}") from None

    @contextmanager
    def _statement(self):
        """One statement in autocommit: one round trip instead of BEGIN, statement, COMMIT."""
        try:
            with self._pool.connection() as connection, connection.cursor() as cursor:
                yield Tx(cursor, postgres=True)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StorageError(f"PostgreSQL is not reachable: {_one_line(exc)}") from None

    def close(self) -> None:
        self._pool.close()

    # -- the upload path, natively async: no worker thread per upload -------------------

    async def start_async(self) -> None:
        self._async_pool = psycopg_pool.AsyncConnectionPool(
            self.url, min_size=1, max_size=self.pool_size, open=False, timeout=CONNECT_TIMEOUT_S,
            name="ime-collector-async", kwargs={"autocommit": True})
        await self._async_pool.open()

    async def close_async(self) -> None:
        if self._async_pool is not None:
            await self._async_pool.close()
            self._async_pool = None

    async def add_batch_async(self, study_id: str, enrollment_id: str, batch_id: str, body: bytes, digest: str,
                              day: str) -> Stored:
        if self._async_pool is None:
            return await super().add_batch_async(study_id, enrollment_id, batch_id, body, digest, day)
        try:
            async with self._async_pool.connection() as connection:
                cursor = await connection.execute(self._insert_batch().replace("?", "%s"),
                                                  (study_id, enrollment_id, batch_id, digest, body, day,
                                                   enrollment_id, study_id), binary=True)
                inserted = await cursor.fetchone()
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StorageError(f"PostgreSQL is not reachable: {_one_line(exc)}") from None
        if inserted is not None:
            return Stored.STORED
        return await anyio.to_thread.run_sync(self._not_stored, study_id, batch_id, digest)

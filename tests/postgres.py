"""A real PostgreSQL for tests: Debian's ``postgresql``, a throw-away cluster per session.

``initdb`` refuses to run as root, so as root the cluster is made and run as the
``postgres`` user (``runuser``). The cluster listens only on a unix socket in a
temporary directory, with fsync off (tests only). Each test gets a fresh database
(:func:`postgres_url`). Without PostgreSQL the tests are skipped, except with
``CI`` set, where that is a failure.

Use from a conftest: ``from postgres import postgres_cluster, postgres_url  # noqa: F401``.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from xserver import REQUIRED

INSTALL_HINT = "apt-get install postgresql (scripts/setup-system does it)"


def find_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class Cluster:
    """A running cluster; :meth:`url` for a database in it."""

    def __init__(self, bindir: Path, durable: bool = False):
        self.bindir = bindir
        self.durable = durable  # keep PostgreSQL's fsync and synchronous_commit (benchmarks)
        self.base = Path(tempfile.mkdtemp(prefix="ime-pg-"))  # short: a socket path has a length limit
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.base, "postgres")

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "test", "-A", "trust", "-N", "-E", "UTF8",
                  "--locale=C.UTF-8")
        options = f"-c listen_addresses='' -c unix_socket_directories='{self.base}' -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://test@/{dbname}?host={self.base}"

    def _admin(self, sql: str) -> None:
        import psycopg  # noqa: PLC0415
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(sql)

    def create_database(self) -> str:
        name = "t_" + secrets.token_hex(6)
        self._admin(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def dump(self, name: str) -> bytes:
        """``pg_dump`` of a database, as text."""
        result = subprocess.run([str(self.bindir / "pg_dump"), "-h", str(self.base), "-U", "test", name],
                                capture_output=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {result.stderr.decode(errors='replace')}")
        return result.stdout


@pytest.fixture(scope="session")
def postgres_cluster():
    bindir = find_bindir()
    if bindir is None:
        message = f"PostgreSQL is not installed ({INSTALL_HINT})"
        if REQUIRED:
            pytest.fail(f"CI requires the real PostgreSQL tests: {message}")
        pytest.skip(message)
    cluster = Cluster(bindir)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_database(postgres_cluster):
    """The name of a fresh, empty database, dropped afterwards."""
    name = postgres_cluster.create_database()
    yield name
    postgres_cluster.drop_database(name)


@pytest.fixture
def postgres_url(postgres_cluster, postgres_database) -> str:
    return postgres_cluster.url(postgres_database)

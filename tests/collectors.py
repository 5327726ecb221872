"""Real collectors for tests: ``ime-collector serve`` as a uvicorn process on 127.0.0.1.

``start_collector(db_url, log_path)`` picks a free port, starts the process and
waits until ``GET /healthz`` answers (or the process dies, with its log in the
error). The fixture ``collector_factory`` starts as many as a test asks for and
stops them all afterwards::

    def test_x(collector_factory, tmp_path):
        collector = collector_factory(f"sqlite:///{tmp_path}/c.db")
        httpx.get(collector.url + "/healthz")
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from xserver import wait_until

START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def collector_command() -> list[str]:
    """``ime-collector`` of the venv running the tests."""
    return [str(Path(sys.executable).parent / "ime-collector")]


@dataclass
class CollectorProcess:
    db_url: str
    port: int
    log_path: Path
    process: subprocess.Popen
    env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def start_collector(db_url: str, log_path: Path, env: dict | None = None, workers: int = 1,
                    port: int | None = None) -> CollectorProcess:
    port = port or free_port()
    environment = {**os.environ, **(env or {})}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [*collector_command(), "--db", db_url, "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)], stdout=log, stderr=subprocess.STDOUT, env=environment)
    collector = CollectorProcess(db_url, port, log_path, process, env or {})

    def ready() -> bool:
        if not collector.alive():
            raise AssertionError(f"ime-collector exited ({process.returncode}):\n{collector.log()[-3000:]}")
        return _healthy(collector.url)

    try:
        wait_until(ready, timeout=START_TIMEOUT_S, interval=0.05, what="the collector's /healthz")
    except BaseException:
        collector.stop()
        raise
    return collector


@pytest.fixture
def collector_factory(tmp_path):
    """``collector_factory(db_url, env=None, workers=1, name="collector")`` → a running CollectorProcess."""
    started: list[CollectorProcess] = []

    def start(db_url: str, env: dict | None = None, workers: int = 1, name: str = "collector",
              port: int | None = None) -> CollectorProcess:
        collector = start_collector(db_url, tmp_path / f"{name}-{len(started)}.log", env, workers, port)
        started.append(collector)
        return collector

    yield start
    for collector in started:
        collector.stop()

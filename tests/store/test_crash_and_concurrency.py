"""SIGKILL during heavy ingestion loses nothing reported committed; two
processes share one profile."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ime_agent import consent
from ime_agent.capture import Segment
from ime_agent.pipeline import Pipeline
from ime_agent.store import PausedState, Store

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")
DEADLINE = 120.0


class Worker:
    """A worker process whose stdout lines arrive on a queue (complete lines only)."""

    def __init__(self, session: Path, limit: int | None = None):
        args = [sys.executable, str(WORKER), str(session)] + ([str(limit)] if limit else [])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.ids: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            if line.endswith("\n"):
                self.lines.put(line.strip())
        self.lines.put(None)

    def wait_for(self, n: int, deadline: float) -> None:
        while len(self.ids) < n:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if line is None:
                pytest.fail(f"worker exited early: {self.proc.wait()} {self.proc.stderr.read()[-2000:]}")
            self.ids.append(line)

    def drain(self) -> None:
        """After the process ended: every complete line it wrote."""
        while (line := self.lines.get(timeout=DEADLINE)) is not None:
            self.ids.append(line)


@pytest.fixture
def profile(data_dir, make_session, monkeypatch):
    monkeypatch.setenv("IME_AGENT_DATA_DIR", str(data_dir))
    with Store.open(data_dir) as store:
        consent.grant(store, ["travel"])
    session = make_session([("slack", "Slack", False, f"a trip plan {i}") for i in range(40)])
    return data_dir, session


def test_sigkill_mid_ingestion_loses_nothing_committed(profile):
    data_dir, session = profile
    deadline = time.monotonic() + DEADLINE
    worker = Worker(session)
    worker.wait_for(300, deadline)
    worker.proc.send_signal(signal.SIGKILL)
    assert worker.proc.wait(timeout=DEADLINE) == -signal.SIGKILL
    worker.drain()
    with Store.open(data_dir) as store:
        assert store.integrity_ok()
        missing = [i for i in worker.ids if not store.has_summary(i)]
        assert missing == [] and len(worker.ids) >= 300
        assert len(store.summaries()) >= len(worker.ids)


def test_two_writers_and_a_reader_share_one_profile(profile):
    data_dir, session = profile
    deadline = time.monotonic() + DEADLINE
    workers = [Worker(session, limit=150) for _ in range(2)]
    with Store.open(data_dir) as reader:
        seen = [0]
        while any(w.proc.poll() is None for w in workers):
            assert time.monotonic() < deadline, "workers did not finish in time"
            reader.audit("export", rows=0)  # the reader writes too, between their writes
            seen.append(reader.counts()["total"])
    for w in workers:
        assert w.proc.wait(timeout=DEADLINE) == 0, w.proc.stderr.read()[-2000:]
        w.drain()
    # The reader only ever saw whole commits, in order: counts never went back, never over the end.
    assert seen == sorted(seen) and seen[-1] <= 300 and len(set(seen)) > 1
    with Store.open(data_dir) as store:
        assert store.counts()["total"] == 300
        assert all(store.has_summary(i) for w in workers for i in w.ids)
        assert [a["event"] for a in store.audit_log()].count("export") >= 1


def cli(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``ime-agent ARGS`` in its own process (profile: IME_AGENT_DATA_DIR)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([*prefix, sys.executable, "-m", "ime_agent", *args], cwd=ROOT, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=DEADLINE)


def seen_within(check, seconds: float) -> float | None:
    """Poll ``check`` every 0.05 s, as an agent would; how long it took, or None."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def test_pause_and_resume_from_the_cli_reach_a_running_agent_within_a_second(profile):
    data_dir, _session = profile
    with Store.open(data_dir) as agent:  # held open, as the running agent holds it
        assert not agent.paused_state().paused
        assert cli("pause", "--for", "1h").returncode == 0
        assert seen_within(lambda: agent.paused_state().paused, 1.0) is not None
        assert agent.paused_state().until is not None
        assert cli("resume").returncode == 0
        assert seen_within(lambda: not agent.paused_state().paused, 1.0) is not None
        assert cli("pause").returncode == 0
        assert seen_within(lambda: agent.paused_state() == PausedState(True, None), 1.0) is not None


def test_withdraw_from_the_cli_stops_a_running_pipeline_at_once(profile, fake_classifier):
    data_dir, _session = profile
    with Store.open(data_dir) as agent:
        pipeline = Pipeline(agent, fake_classifier)
        segment = Segment("a trip", "slack", "enter", 0.0, 1.0)
        assert pipeline.process_segment(segment, datetime.now(UTC)) == "stored"
        result = cli("consent", "withdraw", "--category", "travel")
        assert result.returncode == 0 and "deleted 1 summaries" in result.stdout
        assert pipeline.process_segment(segment, datetime.now(UTC)) == "no_consent"
        assert agent.summaries() == []


def _without_root_override() -> tuple[str, ...]:
    """As root, permissions are not enforced; drop that power for the child (Linux setpriv)."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        from xserver import REQUIRED

        message = "running as root without setpriv (util-linux): permissions cannot be tested"
        if REQUIRED:
            pytest.fail(f"CI requires the permission tests: {message}")
        pytest.skip(message)
    return ("setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_data_dir_not_writable_is_one_clear_line(tmp_path, monkeypatch):
    prefix = _without_root_override()
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        for data_dir, fragment in ((locked / "data", "cannot create data dir"), (locked, "is not readable and writable by you")):
            monkeypatch.setenv("IME_AGENT_DATA_DIR", str(data_dir))
            result = cli("consent", "grant", "--yes", prefix=prefix)
            assert result.returncode == 1 and result.stdout == "", result.stderr
            assert result.stderr.count("\n") == 1 and fragment in result.stderr and "--data-dir" in result.stderr
        os.chmod(locked, 0o700)
        monkeypatch.setenv("IME_AGENT_DATA_DIR", str(locked))
        assert cli("consent", "grant", "--yes", prefix=prefix).returncode == 0
        os.chmod(locked / "ime-agent.db", 0o400)
        result = cli("pause", prefix=prefix)
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
        assert "cannot write the store" in result.stderr and "chmod" in result.stderr
    finally:
        os.chmod(locked, 0o700)

"""One agent per profile: the lock, the PID in the message, and stale locks after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from ime_agent.errors import ImeAgentError
from ime_agent.instance import LOCK_NAME, AlreadyRunning, acquire, running_pid
from xserver import LineReader

HOLD = """
import sys
from ime_agent.instance import acquire
lock = acquire(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
"""


def test_first_start_wins_and_second_names_its_pid(tmp_path):
    assert running_pid(tmp_path) is None
    with acquire(tmp_path):
        assert running_pid(tmp_path) == os.getpid()
        with pytest.raises(AlreadyRunning) as caught:
            acquire(tmp_path)
        assert isinstance(caught.value, ImeAgentError)
        assert f"PID {os.getpid()}" in str(caught.value) and "ime-agent status" in str(caught.value)
    assert running_pid(tmp_path) is None
    with acquire(tmp_path):  # released: the profile can be taken again
        pass


def test_another_process_holding_the_profile(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        LineReader(holder.stdout).wait_for(lambda line: line == "locked", what="the holder to lock")
        assert running_pid(tmp_path) == holder.pid
        with pytest.raises(AlreadyRunning, match=f"PID {holder.pid}"):
            acquire(tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: no cleanup runs
        holder.wait()
    # The OS dropped the lock with the process; the PID left in the file is ignored.
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(holder.pid)
    assert running_pid(tmp_path) is None
    with acquire(tmp_path):
        assert running_pid(tmp_path) == os.getpid()


def test_creates_the_data_dir(tmp_path):
    with acquire(tmp_path / "new" / "profile") as lock:
        assert lock.path.exists()

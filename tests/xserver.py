"""Real X servers for tests: Xvfb (with RECORD), an optional window manager, test windows.

Everything here waits on conditions with deadlines, never on fixed sleeps. When
a tool is missing the test is skipped locally, but fails in CI (``CI`` set), so
a CI run can never pass by skipping the real thing.
"""

from __future__ import annotations

import os
import queue
import select
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRED = bool(os.environ.get("CI")) or bool(os.environ.get("IME_AGENT_REQUIRE_X"))
HERE = Path(__file__).parent


def need_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"missing {', '.join(missing)} (apt-get install xvfb xdotool x11-utils openbox)"
        if REQUIRED:
            pytest.fail(f"CI requires the real X tests: {message}")
        pytest.skip(message)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.01, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Xvfb:
    def __init__(self, display: str, env: dict[str, str]):
        self.display = display
        self.env = env
        self._procs: list[subprocess.Popen] = []

    def run(self, *args: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(args, env=self.env, check=check, capture_output=True, text=True,
                              timeout=30, **kwargs)

    def xdotool(self, *args: str) -> str:
        return self.run("xdotool", *args).stdout.strip()

    def spawn(self, *args: str, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(args, env=self.env, **kwargs)
        self._procs.append(proc)
        return proc

    def window(self, app_class: str, title: str) -> str:
        """Open a plain top-level window with this WM_CLASS and title; return its id."""
        proc = self.spawn(sys.executable, str(HERE / "x11_window.py"), app_class, title,
                          stdout=subprocess.PIPE, text=True)
        line = _readline(proc.stdout, 10, f"window {app_class!r}")
        window_id = line.strip()
        wait_until(lambda: self.run("xwininfo", "-id", window_id, check=False).returncode == 0 and
                   "IsViewable" in self.run("xwininfo", "-id", window_id, check=False).stdout,
                   what=f"window {app_class!r} mapped")
        return window_id

    def activate(self, window_id: str) -> None:
        self.xdotool("windowactivate", "--sync", window_id)

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _readline(stream, timeout: float, what: str) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise AssertionError(f"timed out waiting for {what}")
    line = stream.readline()
    if not line:
        raise AssertionError(f"{what}: process ended early")
    return line


@contextmanager
def xvfb(window_manager: bool = True):
    """Start Xvfb with RECORD on a free display (``-displayfd``), plus openbox if asked."""
    need_tools("Xvfb", "xdotool", "xwininfo", "xprop", *(["openbox"] if window_manager else []))
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24",
         "+extension", "RECORD", "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as numbers:
        number = _readline(numbers, 15, "Xvfb to report its display").strip()
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XAUTHORITY")}
    env["DISPLAY"] = f":{number}"
    x = Xvfb(env["DISPLAY"], env)
    x._procs.append(server)
    try:
        if window_manager:
            x.spawn("openbox", "--sm-disable", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_until(lambda: "window id" in x.run("xprop", "-root", "_NET_SUPPORTING_WM_CHECK",
                                                    check=False).stdout,
                       what="openbox to manage the screen")
        yield x
    finally:
        x.stop()


class LineReader:
    """Collects a process's output lines on a thread so tests can wait on them."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream):
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "output line") -> str:
        for line in self.lines:
            if predicate(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}; got {self.lines!r}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"stream ended waiting for {what}; got {self.lines!r}")
            self.lines.append(line)
            if predicate(line):
                return line

    def poll(self) -> list[str]:
        """The lines so far, without waiting."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return self.lines
            if line is None:
                self._queue.put(None)  # keep the end for rest() and wait_for()
                return self.lines
            self.lines.append(line)

    def rest(self, timeout: float = 10.0) -> list[str]:
        """Everything until the stream closes."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"stream did not close; got {self.lines!r}") from None
            if line is None:
                return self.lines
            self.lines.append(line)

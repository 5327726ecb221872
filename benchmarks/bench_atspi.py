"""Accessibility-bus capture benchmarks: commit-to-event and commit-to-segment latency,
and the capture's CPU while typing at 10 keys/s.

Starts its own Xvfb + openbox, session bus and accessibility bus (as the tests do)
and a GTK3 window. The peer is a bare ``gi.repository.Atspi`` listener (libatspi,
C) run in the same session on the same events. Needs what scripts/setup-system installs.
Run: .venv/bin/python benchmarks/bench_atspi.py
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from a11ybus import SYSTEM_PYTHON, LineReader, desktop  # noqa: E402
from xserver import wait_until  # noqa: E402

from ime_agent.capture import _atspi, _xorg  # noqa: E402
from ime_agent.capture._base import INSERT  # noqa: E402
from ime_agent.capture.live import LiveCapture  # noqa: E402

PEER = """
import sys, time, gi
gi.require_version("Atspi", "2.0")
from gi.repository import Atspi, GLib
def on_event(event):
    print(repr(time.monotonic()), flush=True)
listener = Atspi.EventListener.new(on_event)
listener.register("object:text-changed:insert")
print("listening", flush=True)
GLib.MainLoop().run()
"""


def summary(ms: list[float]) -> str:
    ordered = sorted(ms)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ms):.2f} ms / p99 {p99:.2f} ms (n={len(ms)})"


class Sources:
    HAS_SECURE_INPUT_FLAG = False

    def __init__(self, *sources):
        self.sources = sources

    def start(self, emit):
        for source in self.sources:
            source.start(emit)

    def stop(self):
        for source in reversed(self.sources):
            source.stop()


def commit_to_event(d, window, n: int = 200) -> dict:
    """An app's commit (insert-at-cursor) → the event our source emits; the peer on the same commits."""
    received: queue.SimpleQueue = queue.SimpleQueue()
    source = _atspi.source()
    source.start(lambda e: received.put(e.t) if e.type == INSERT else None)
    peer = d.spawn_group(SYSTEM_PYTHON, "-c", PEER, stdout=subprocess.PIPE, text=True)
    peer_out = LineReader(peer.stdout)
    peer_out.wait_for(lambda line: line == "listening", 20, "the peer listener")
    ours, theirs = [], []
    try:
        for i in range(n):
            window.command(f"timed {'国庆'[i % 2]}")
            sent = float(window.out.lines[-1].split()[2])
            ours.append((received.get(timeout=10) - sent) * 1000)
            peer_out.wait_for(lambda l, k=i: sum(1 for x in peer_out.lines if x != "listening") > k, 10)
            theirs.append((float([x for x in peer_out.lines if x != "listening"][i]) - sent) * 1000)
    finally:
        source.stop()
        peer.terminate()
    return {"ours": summary(ours), "peer": summary(theirs)}


def commit_to_segment(d, window, n: int = 40) -> str:
    """An app's commit then Enter: from the commit to the segment handed over (includes the Enter's trip)."""
    segments: queue.SimpleQueue = queue.SimpleQueue()
    live = LiveCapture(Sources(_atspi.source(), _xorg.source()), lambda s: segments.put(time.monotonic()))
    live.start()
    wait_until(lambda: d.x.xdotool("getactivewindow") and True, what="active window")
    result = []
    try:
        for i in range(n):
            window.command(f"timed 第{i}次")
            sent = float(window.out.lines[-1].split()[2])
            d.x.xdotool("key", "Return")
            result.append((segments.get(timeout=10) - sent) * 1000)
    finally:
        live.stop()
    return summary(result)


def cpu_while_typing(d, with_accessibility: bool, seconds: float = 15.0) -> str:
    """CPU of this process (the capture) while xdotool types 10 keys/s into the GTK entry."""
    got = []
    sources = [_atspi.source(), _xorg.source()] if with_accessibility else [_xorg.source()]
    live = LiveCapture(Sources(*sources), got.append)
    live.start()
    text = ("plan a trip to dali in may " * 10)[: int(seconds * 10)]
    cpu0, wall0 = time.process_time(), time.monotonic()
    d.x.run("xdotool", "type", "--delay", "200", text)  # xdotool waits half the delay after each press and release
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    live.stop()
    return f"{100 * cpu / wall:.1f} % of one core ({cpu:.2f} s CPU over {wall:.1f} s, {len(text) / wall:.1f} keys/s)"


def main() -> None:
    results = {}
    with desktop() as d:
        os.environ.update(d.env)
        window = d.gtk_window("Bench")
        results["commit_to_event"] = commit_to_event(d, window)
        results["commit_to_segment"] = commit_to_segment(d, window)
        results["cpu_keystrokes_only"] = cpu_while_typing(d, False)
        results["cpu_with_accessibility"] = cpu_while_typing(d, True)
    print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

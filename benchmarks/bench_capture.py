"""Capture benchmarks: listener-callback cost, reconstruction throughput, key-to-segment latency.

Starts its own Xvfb (with RECORD) and openbox; needs xvfb, xdotool and openbox.
Run: .venv/bin/python benchmarks/bench_capture.py [--sessions DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from xserver import xvfb  # noqa: E402

from ime_agent.capture import iter_events  # noqa: E402
from ime_agent.capture.guards import GuardFilter, Guards  # noqa: E402
from ime_agent.capture.text import Reconstructor  # noqa: E402


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_callbacks(n: int = 200_000) -> dict:
    """Per-call cost of the real pynput callbacks: event + guard filter + queue put."""
    import queue

    from pynput.keyboard import Key, KeyCode

    from ime_agent.capture._pynput import listener_callbacks

    sink = queue.SimpleQueue()
    guard = GuardFilter(Guards(), sink.put)
    on_press, on_release, _ = listener_callbacks(guard, time.monotonic)
    keys = [KeyCode.from_char(c) for c in "hello world"] + [Key.space, Key.backspace, Key.shift]
    timings = []
    clock = time.perf_counter_ns
    gc.disable()
    for i in range(n):
        key = keys[i % len(keys)]
        start = clock()
        on_press(key)
        on_release(key)
        timings.append((clock() - start) / 2)
        if i % 10_000 == 0:
            while not sink.empty():
                sink.get()
    gc.enable()
    us = [t / 1000 for t in timings]
    return {"calls": 2 * n, "p50_us": round(percentile(us, 0.5), 2), "p99_us": round(percentile(us, 0.99), 2)}


def bench_reconstruction(sessions: list[Path], rounds: int = 20) -> dict:
    events = [event for path in sessions for event in iter_events(path)]
    # Shift each session's clock so the concatenation stays in time order.
    shifted, offset, last = [], 0.0, 0.0
    for event in events:
        if event.t + offset < last:
            offset = last
        shifted.append(event.__class__(event.t + offset, event.type, event.key, event.app, event.title,
                                       event.secure, event.text))
        last = shifted[-1].t
    best = 0.0
    segments = 0
    for _ in range(rounds):
        out = []
        machine = Reconstructor(out.append)
        guard = GuardFilter(Guards(), machine.feed)
        start = time.perf_counter()
        for event in shifted:
            guard(event)
        machine.finish(last)
        elapsed = time.perf_counter() - start
        best = max(best, len(shifted) / elapsed)
        segments = len(out)
    return {"events": len(shifted), "segments": segments, "events_per_s": int(best)}


def bench_latency(x, samples: int = 40) -> dict:
    """Enter pressed (pynput's timestamp) → segment delivered, live on Xvfb with xdotool."""
    from ime_agent.capture import _xorg
    from ime_agent.capture.live import LiveCapture

    arrived: list[float] = []
    ends: list[float] = []
    got = threading.Condition()

    def on_segment(segment):
        with got:
            arrived.append(time.monotonic())
            ends.append(segment.t_end)
            got.notify_all()

    window = x.window("notes", "Notes")
    x.activate(window)
    import os

    os.environ["DISPLAY"] = x.display
    live = LiveCapture(_xorg.source(), on_segment)
    live.start()
    try:
        for i in range(samples):
            x.xdotool("type", "--delay", "2", f"sample {i}")
            x.xdotool("key", "Return")
            with got:
                if not got.wait_for(lambda: len(arrived) > i, timeout=10):
                    raise RuntimeError("segment did not arrive")
    finally:
        live.stop()
    latencies = [(a - e) * 1000 for a, e in zip(arrived, ends)]
    return {"samples": len(latencies), "p50_ms": round(statistics.median(latencies), 3),
            "p99_ms": round(percentile(latencies, 0.99), 3), "max_ms": round(max(latencies), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=Path, default=ROOT.parent / "shared" / "data" / "sessions")
    args = parser.parse_args()
    sessions = sorted(p for p in args.sessions.glob("*.jsonl") if not p.name.endswith(".expected.jsonl"))
    sessions = sessions or sorted((ROOT / "ime_agent" / "data" / "samples").glob("*.jsonl"))
    results = {"reconstruction": bench_reconstruction(sessions)}
    with xvfb() as x:
        import os

        os.environ["DISPLAY"] = x.display
        results["callback"] = bench_callbacks()
        results["key_to_segment"] = bench_latency(x)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

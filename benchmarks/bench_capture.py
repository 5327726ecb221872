"""Capture benchmarks: the delay judging keys in one ordered stream adds to typing (beside a plain
pynput listener in the same run), reconstruction throughput, key-to-segment latency.

Starts its own Xvfb (with RECORD) and openbox; needs xvfb, xdotool and openbox.
Run: .venv/bin/python benchmarks/bench_capture.py [--sessions DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
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


def bench_added_delay(x, keys: int = 300) -> dict:
    """What judging keys in one ordered stream costs typing: every key typed by xdotool is heard by
    the X11 source (RECORD with focus, titles and activation requests) and, in the same run, by a
    plain pynput keyboard listener (the peer: keys alone). Reported: how much later (monotonic) the
    source handed each key on than the peer heard it."""
    import os

    from pynput import keyboard

    from ime_agent.capture import _xorg

    os.environ["DISPLAY"] = x.display
    window = x.window("notes", "Notes")
    x.activate(window)
    plain: list[float] = []
    ours: list[float] = []
    done = threading.Event()

    def plain_press(_key, injected=False):
        plain.append(time.monotonic())

    def our_emit(event):
        if event.type == "press":
            ours.append(time.monotonic())
            if len(ours) >= keys:
                done.set()

    peer = keyboard.Listener(on_press=plain_press)
    peer.start()
    peer.wait()
    source = _xorg.source()
    source.start(our_emit)
    try:
        text = ("the quick brown fox jumps over the lazy dog " * 10)[:keys]
        x.xdotool("type", "--delay", "20", text)
        if not done.wait(30):
            raise RuntimeError("the keys did not all arrive")
    finally:
        source.stop()
        peer.stop()
        x.xdotool("key", "shift")  # pynput's RECORD threads end at their next event: let them, before Xvfb goes
        peer.join(5)
    added = [(o - p) * 1000 for o, p in zip(ours, plain)]
    return {"keys": len(added), "added_p50_ms": round(statistics.median(added), 3),
            "added_p99_ms": round(percentile(added, 0.99), 3),
            "note": "positive: the source heard the key after the plain listener did"}


def bench_reconstruction(sessions: list[Path], rounds: int = 20) -> dict:
    events = [event for path in sessions for event in iter_events(path)]
    # Shift each session's clock so the concatenation stays in time order.
    shifted, offset, last = [], 0.0, 0.0
    for event in events:
        if event.t + offset < last:
            offset = last
        shifted.append(replace(event, t=event.t + offset))
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

    import os

    os.environ["DISPLAY"] = x.display
    live = LiveCapture(_xorg.source(), on_segment)
    live.start()
    window = x.window("notes", "Notes")
    x.activate(window)
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
    parser.add_argument("--sessions", type=Path, default=ROOT / "tests" / "data" / "sessions")
    args = parser.parse_args()
    sessions = sorted(p for p in args.sessions.glob("*.jsonl") if not p.name.endswith(".expected.jsonl"))
    sessions = sessions or sorted((ROOT / "ime_agent" / "data" / "samples").glob("*.jsonl"))
    results = {"reconstruction": bench_reconstruction(sessions)}
    with xvfb() as x:
        import os

        os.environ["DISPLAY"] = x.display
        results["added_delay"] = bench_added_delay(x)
    with xvfb() as x:
        import os

        os.environ["DISPLAY"] = x.display
        results["key_to_segment"] = bench_latency(x)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

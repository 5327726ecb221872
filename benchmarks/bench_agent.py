"""Resources of the running agent (`ime-agent run`): RSS and CPU, idle and while typing.

Starts its own Xvfb (with RECORD), openbox and trayer, a temporary profile with
consent for every category, and the agent as a real process; reads its RSS and CPU
time from /proc. Typing is xdotool at 10 keys/s into a plain window, with Enter
every sentence so segments are classified and stored. Linux only.

Run: .venv/bin/python benchmarks/bench_agent.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from xserver import xvfb  # noqa: E402

SENTENCES = [
    "thinking of a new laptop for uni",
    "ok see you at five",
    "anyone been to dali with kids",
    "always tired in the morning lately",
    "lunch at the usual place?",
    "cheap flights to lisbon in march",
]


def cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads, in ns precision (schedstat), not in 10 ms ticks:
    the agent's short timer wake-ups are mis-charged by tick sampling."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            pass  # a thread that just ended
    return total / 1e9


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def measure(pid: int, seconds: float, during=None) -> dict:
    """CPU share of one core and peak RSS over ``seconds`` while ``during`` runs (if any)."""
    stop = threading.Event()
    worker = threading.Thread(target=during, args=(stop,), daemon=True) if during else None
    peak = rss_mb(pid)
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    if worker:
        worker.start()
    while time.monotonic() - t0 < seconds:
        time.sleep(0.5)
        peak = max(peak, rss_mb(pid))
    stop.set()
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    if worker:
        worker.join()
    return {"cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 2),
            "rss_mb_end": round(rss_mb(pid), 1), "rss_mb_peak": round(peak, 1), "seconds": round(t1 - t0, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with xvfb() as x, tempfile.TemporaryDirectory() as tmp:
        x.spawn("trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32",
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env = dict(x.env, IME_AGENT_DATA_DIR=str(Path(tmp) / "profile"), IME_AGENT_KEY_SOURCE="file",
                   IME_AGENT_CONFIG=os.devnull, PYSTRAY_BACKEND="xorg", PYTHONUNBUFFERED="1")
        cli = [sys.executable, "-m", "ime_agent"]
        subprocess.run([*cli, "consent", "grant", "--all", "--yes"], env=env, check=True, capture_output=True)
        agent = subprocess.Popen([*cli, "run"], env=env, stderr=subprocess.PIPE, text=True)
        try:
            for line in agent.stderr:  # idle is measured from when the models are loaded
                if "classifier loaded" in line:
                    break
            threading.Thread(target=lambda: [None for _ in agent.stderr], daemon=True).start()
            window = x.window("firefox", "Notes - Mozilla Firefox")
            x.activate(window)
            started = {"rss_mb_after_start": round(rss_mb(agent.pid), 1)}

            def type_at_10_keys_per_second(stop: threading.Event) -> None:
                i = 0
                while not stop.is_set():
                    x.xdotool("type", "--delay", "100", SENTENCES[i % len(SENTENCES)])
                    x.xdotool("key", "Return")
                    i += 1

            idle = measure(agent.pid, args.seconds)
            typing = measure(agent.pid, args.seconds, type_at_10_keys_per_second)
            stored = subprocess.run([*cli, "summaries", "--json"], env=env, capture_output=True, text=True)
            typing["summaries_stored"] = len(stored.stdout.splitlines())
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)
    print(json.dumps({"start": started, "idle": idle, "typing_10_keys_per_s": typing}, indent=2))


if __name__ == "__main__":
    main()

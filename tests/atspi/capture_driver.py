"""Live capture from the X11 keyboard hook and the accessibility source together.

Stands in for the agent's composition of sources in tests: prints each segment
as a JSON line on stdout, and on stderr "capturing" once listening, then every
window focus and accessibility field (app, role, flags; never text).
Usage: python capture_driver.py [--no-keys] [--idle-commit SECONDS]
"""

import json
import signal
import sys
import threading

from ime_agent.capture import _atspi, _xorg
from ime_agent.capture._base import FIELD, FOCUS
from ime_agent.capture.compose import CompositeSource
from ime_agent.capture.live import LiveCapture


def main() -> None:
    args = sys.argv[1:]
    idle = float(args[args.index("--idle-commit") + 1]) if "--idle-commit" in args else 10.0
    lock = threading.Lock()

    def say(line: str, stream) -> None:
        with lock:
            print(line, file=stream, flush=True)

    accessibility = _atspi.source()
    # The accessibility source first: it learns the focused field before any key is heard.
    sources = [accessibility] if "--no-keys" in args else [accessibility, _xorg.source()]

    def on_segment(segment):
        say(json.dumps({"text": segment.text, "app": segment.app, "reason": segment.reason},
                       ensure_ascii=False), sys.stdout)

    live = LiveCapture(CompositeSource(sources), on_segment, idle_commit=idle)
    forward = live.guard

    def tell(event):
        if event.type == FOCUS:
            say(f"focus: {event.app}", sys.stderr)
        elif event.type == FIELD:
            flags = [name for name, on in (("secure", event.secure), ("text", event.reports_text)) if on]
            say(f"field: {event.app} [{event.role}] {' '.join(flags)}".rstrip(), sys.stderr)
        forward(event)

    live.guard = tell
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    live.start()
    say("capturing", sys.stderr)
    stop.wait()
    live.stop()
    say("capture stopped", sys.stderr)


main()

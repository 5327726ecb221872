"""A scripted event source: events from a list instead of a keyboard, on capture's own clock.

Used by the tests and the demo wherever a real keyboard is not the point. Each
script entry is a :class:`~ime_agent.capture._base.KeyEvent` whose ``t`` is an
offset from the moment the script is played; the source stamps it onto the clock
it is given (the same clock as :class:`~ime_agent.capture.live.LiveCapture`'s), so
idle commits fire exactly as they would live.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Callable, Iterable

from ime_agent.capture._base import REPORTS_FOCUS, REPORTS_KEYS, REPORTS_TEXT, Emit, KeyEvent

NAME = "scripted"


class ScriptedSource:
    """Plays scripts on demand. ``start`` plays ``initial`` (if any) before returning;
    :meth:`play` plays more later, from any thread, and returns once emitted."""

    name = NAME
    capabilities = frozenset({REPORTS_KEYS, REPORTS_FOCUS, REPORTS_TEXT})

    def __init__(self, initial: Iterable[KeyEvent] = (), *, clock: Callable[[], float] = time.monotonic):
        self._initial = list(initial)
        self._clock = clock
        self._emit: Emit | None = None
        self._lock = threading.Lock()
        self._alive = False
        self.started = threading.Event()

    def start(self, emit: Emit) -> None:
        self._emit = emit
        self._alive = True
        self.started.set()
        if self._initial:
            self.play(self._initial)

    def stop(self) -> None:
        self._alive = False

    def alive(self) -> bool:
        return self._alive

    def kill(self) -> None:
        """Stop observing without being asked (as a source whose display went away)."""
        self._alive = False

    def play(self, script: Iterable[KeyEvent], *, realtime: bool = False) -> None:
        """Emit ``script``; with ``realtime``, wait for each event's offset to pass first."""
        if self._emit is None:
            raise RuntimeError("the scripted source has not been started")
        with self._lock:  # one script at a time, in order
            base = self._clock()
            for event in script:
                if not self._alive:
                    return
                if realtime:
                    delay = base + event.t - self._clock()
                    if delay > 0:
                        time.sleep(delay)  # replaying typing speed, not synchronising
                self._emit(replace(event, t=base + event.t))


def typing(text: str, *, app: str = "notes", title: str = "Notes", gap: float = 0.0,
           enter: bool = True) -> list[KeyEvent]:
    """A script that focuses ``app`` and types ``text`` (then Enter), ``gap`` seconds per key."""
    from ime_agent.capture._base import FOCUS, PRESS, RELEASE

    events = [KeyEvent(0.0, FOCUS, app=app, title=title, secure=False)]
    t = 0.0
    for char in text:
        key = "Key.space" if char == " " else char
        events += [KeyEvent(t, PRESS, key=key), KeyEvent(t, RELEASE, key=key)]
        t += gap
    if enter:
        events += [KeyEvent(t, PRESS, key="Key.enter"), KeyEvent(t, RELEASE, key="Key.enter")]
    return events

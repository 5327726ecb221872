"""What every pynput-based backend shares: the listeners and a focus poller.

Backends supply only their OS code: a focus tracker (a thread that calls
``emit`` with focus events and sets ``ready``) and an availability check.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from ime_agent.capture._base import CLICK, FOCUS, PRESS, RELEASE, Emit, KeyEvent
from ime_agent.errors import BackendUnavailable

Clock = Callable[[], float]
FocusProbe = Callable[[], "tuple[str | None, str, bool]"]

log = logging.getLogger(__name__)


class PynputSource:
    """Keyboard and mouse listeners plus an OS focus tracker, on one clock."""

    def __init__(self, tracker_factory: Callable[[Emit, Clock], threading.Thread], *,
                 has_secure_input_flag: bool, clock: Clock = time.monotonic):
        self.HAS_SECURE_INPUT_FLAG = has_secure_input_flag
        self._tracker_factory = tracker_factory
        self._clock = clock
        self._parts: list = []

    def start(self, emit: Emit) -> None:
        from pynput import keyboard, mouse

        on_press, on_release, on_click = listener_callbacks(emit, self._clock)
        tracker = self._tracker_factory(emit, self._clock)
        keyboard_listener = keyboard.Listener(on_press=on_press, on_release=on_release)
        mouse_listener = mouse.Listener(on_click=on_click)
        self._parts = [tracker, keyboard_listener, mouse_listener]
        tracker.start()
        if not tracker.ready.wait(10):
            raise BackendUnavailable("the focus tracker did not start; check the display server")
        keyboard_listener.start()
        mouse_listener.start()
        keyboard_listener.wait()
        mouse_listener.wait()

    def stop(self) -> None:
        tracker, *listeners = self._parts or [None]
        for part in self._parts:
            try:
                part.stop()
            except Exception as exc:  # e.g. the X connection is already gone (logout)
                log.warning("stopping %s: %s", type(part).__name__, type(exc).__name__)
        # pynput's X RECORD listener thread ends only at the next input event
        # (pynput issue #75 / PR #583), so its daemon threads are not joined.
        if tracker is not None:
            tracker.join(timeout=2)


def listener_callbacks(emit: Emit, clock: Clock):
    """pynput's on_press, on_release and on_click for ``emit``.

    They run on pynput's threads for every key: build the event, hand it on,
    nothing more (benchmarks/bench_capture.py measures them).
    """
    from pynput import keyboard

    special = {key: str(key) for key in keyboard.Key}

    def name_of(key) -> str:
        char = getattr(key, "char", None)
        if char is not None:
            return char
        # Keys outside the keymap (char None) become an ignored special key.
        return special.get(key) or str(key)

    def on_press(key):
        emit(KeyEvent(clock(), PRESS, key=name_of(key)))

    def on_release(key):
        emit(KeyEvent(clock(), RELEASE, key=name_of(key)))

    def on_click(_x, _y, _button, pressed):
        if pressed:
            emit(KeyEvent(clock(), CLICK))

    return on_press, on_release, on_click


class PollingFocusTracker(threading.Thread):
    """Emits a focus event when ``probe()``'s (app, title, secure) changes.

    For systems where focus changes are cheapest to observe by asking: the
    probe is a few system calls, run every ``interval`` seconds.
    """

    def __init__(self, probe: FocusProbe, emit: Emit, clock: Clock, interval: float = 0.1):
        super().__init__(name="ime-agent-focus-tracker", daemon=True)
        self._probe = probe
        self._emit = emit
        self._clock = clock
        self._interval = interval
        self._stopping = threading.Event()
        self._last = None
        self.ready = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while True:
            try:
                state = self._probe()
            except OSError:
                state = self._last  # the window vanished mid-query; ask again next time
            if state is not None and state != self._last:
                self._last = state
                app, title, secure = state
                self._emit(KeyEvent(self._clock(), FOCUS, app=app or "unknown", title=title, secure=secure))
            self.ready.set()
            if self._stopping.wait(self._interval):
                return

"""What the pynput-based backends of Windows and macOS share: the listeners and a focus probe.

Backends supply only their OS code: a probe that returns the focused app, its
title and whether the focused field is secure. Focus is probed in the keyboard
hook itself, right before each key press is handed on, so a key is judged by the
window that has focus when the hook sees it (not by a poller's last look); a
polling thread reports focus changes between keys too, for the tray. If the probe
fails in an unexpected way, focus is unknown (nothing is kept) and the source
reports itself dead.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from ime_agent.capture._base import (
    CLICK, FOCUS, KNOWS_SECURE_FIELDS, PRESS, RELEASE, REPORTS_FOCUS, REPORTS_KEYS, Emit, KeyEvent,
)
from ime_agent.errors import BackendUnavailable

Clock = Callable[[], float]
FocusProbe = Callable[[], "tuple[str | None, str, bool]"]

log = logging.getLogger(__name__)


class PynputSource:
    """Keyboard and mouse listeners plus an OS focus probe, on one clock."""

    def __init__(self, name: str, probe: FocusProbe, *, knows_secure_fields: bool,
                 clock: Clock = time.monotonic, interval: float = 0.1):
        self.name = name
        self.capabilities = frozenset({REPORTS_KEYS, REPORTS_FOCUS} | ({KNOWS_SECURE_FIELDS} if knows_secure_fields else set()))
        self._probe = probe
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()  # the hook and the poller both report focus
        self._last = None
        self._broken = False
        self._stopping = threading.Event()
        self._parts: list = []
        self._poller: threading.Thread | None = None

    def start(self, emit: Emit) -> None:
        from pynput import keyboard, mouse

        special = {key: str(key) for key in keyboard.Key}

        def name_of(key) -> str:
            char = getattr(key, "char", None)
            if char is not None:
                return char
            return special.get(key) or str(key)  # keys outside the keymap become an ignored special key

        def on_press(key, injected=False):
            self._check_focus(emit)  # in the hook: the key goes to the window focused now
            emit(KeyEvent(self._clock(), PRESS, key=name_of(key)))

        def on_release(key, injected=False):
            emit(KeyEvent(self._clock(), RELEASE, key=name_of(key)))

        def on_click(_x, _y, _button, pressed, injected=False):
            if pressed:
                emit(KeyEvent(self._clock(), CLICK))

        self._check_focus(emit)
        self._poller = threading.Thread(target=self._poll, args=(emit,), name=f"ime-agent-{self.name}-focus",
                                        daemon=True)
        self._poller.start()
        keyboard_listener = keyboard.Listener(on_press=on_press, on_release=on_release)
        mouse_listener = mouse.Listener(on_click=on_click)
        self._parts = [keyboard_listener, mouse_listener]
        for listener in self._parts:
            listener.start()
        for listener in self._parts:
            listener.wait()
        if not all(listener.is_alive() for listener in self._parts):
            self.stop()
            raise BackendUnavailable(f"the {self.name} keyboard hook did not start; check the system's "
                                     "input-monitoring permission for this program")

    def stop(self) -> None:
        self._stopping.set()
        for part in self._parts:
            try:
                part.stop()
            except Exception as exc:  # e.g. the session is already gone (logout)
                log.warning("stopping %s: %s", type(part).__name__, type(exc).__name__)
        if self._poller is not None and self._poller is not threading.current_thread():
            self._poller.join(timeout=2)

    def alive(self) -> bool:
        return not self._broken and all(part.is_alive() for part in self._parts)

    def _check_focus(self, emit: Emit) -> None:
        with self._lock:
            if self._broken:
                return
            try:
                state = self._probe()
            except OSError:
                return  # the window vanished mid-query: ask again at the next key or poll
            except Exception as exc:  # cannot tell any more: fail closed
                log.error("%s focus probe failed (%s); dropping all input", self.name, type(exc).__name__)
                self._broken = True
                state = (None, "", True)
            if state != self._last:
                self._last = state
                app, title, secure = state
                emit(KeyEvent(self._clock(), FOCUS, app=app or "unknown", title=title, secure=secure))

    def _poll(self, emit: Emit) -> None:
        while not self._stopping.wait(self._interval) and not self._broken:
            self._check_focus(emit)

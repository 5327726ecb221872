"""Live capture on X11: pynput keyboard and mouse listeners and a window tracker.

The tracker follows the EWMH ``_NET_ACTIVE_WINDOW`` property on the root window
through PropertyNotify events, and the active window's title the same way. Under
a window manager without EWMH it falls back to polling the X input focus.
X11 has no secure-input flag: password prompts are recognised by the guards from
window titles and app ids (see :mod:`ime_agent.capture.guards`).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time

from ime_agent.capture._base import FOCUS, Emit, KeyEvent
from ime_agent.capture._pynput import PynputSource
from ime_agent.errors import BackendUnavailable

NAME = "xorg"
HAS_SECURE_INPUT_FLAG = False

_FALLBACK_POLL = 0.1  # seconds between input-focus polls without EWMH
_STOP_CHECK = 1.0  # with EWMH: seconds between checks for stop()


def check() -> None:
    """Raise BackendUnavailable unless an X server with RECORD is reachable."""
    display_name = os.environ.get("DISPLAY")
    if not display_name:
        raise BackendUnavailable(
            "no X display: set DISPLAY (e.g. DISPLAY=:0), or replay a recorded session with `ime-agent replay FILE`"
        )
    from Xlib import display as xdisplay, error as xerror

    try:
        conn = xdisplay.Display(display_name)
    except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
        raise BackendUnavailable(
            f"cannot open X display {display_name!r} ({type(exc).__name__}): check DISPLAY and that the X server runs"
        ) from None
    try:
        if not conn.has_extension("RECORD"):
            # pynput's listener thread would die and wait() would hang.
            raise BackendUnavailable(
                f"X display {display_name!r} lacks the RECORD extension: enable it in the X server "
                "(Xvfb: +extension RECORD; Xorg: Load \"record\" in the Module section)"
            )
    finally:
        conn.close()


class _WindowTracker(threading.Thread):
    """Emits a focus event whenever the focused window or its title changes."""

    def __init__(self, emit: Emit, clock):
        super().__init__(name="ime-agent-window-tracker", daemon=True)
        from Xlib import X, Xatom, display as xdisplay

        self._X = X
        self._emit = emit
        self._clock = clock
        self._stopping = threading.Event()
        self._display = xdisplay.Display()
        self._root = self._display.screen().root
        atom = self._display.intern_atom
        self._net_active = atom("_NET_ACTIVE_WINDOW")
        self._net_name = atom("_NET_WM_NAME")
        self._net_pid = atom("_NET_WM_PID")
        self._utf8 = atom("UTF8_STRING")
        self._title_atoms = {self._net_name, Xatom.WM_NAME}
        self._watched = None
        self._last = None
        supported = self._root.get_full_property(atom("_NET_SUPPORTED"), X.AnyPropertyType)
        self.ewmh = bool(supported and self._net_active in supported.value)
        self._root.change_attributes(event_mask=X.PropertyChangeMask)
        self._display.flush()
        self.ready = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        try:
            self._refresh()
            self.ready.set()
            while not self._stopping.is_set():
                # With EWMH, X events wake us; the timeout only bounds how long stop() waits.
                timeout = _STOP_CHECK if self.ewmh else _FALLBACK_POLL
                readable, _, _ = select.select([self._display], [], [], timeout)
                changed = not self.ewmh
                while self._display.pending_events():
                    event = self._display.next_event()
                    if event.type == self._X.PropertyNotify and (
                        event.atom == self._net_active or event.atom in self._title_atoms
                    ):
                        changed = True
                if changed:
                    self._refresh()
        except Exception:  # the X connection went away: stop tracking, never crash the agent
            self.ready.set()
        finally:
            with contextlib.suppress(Exception):  # closing a connection the server already dropped
                self._display.close()

    def _focused_window(self):
        if self.ewmh:
            prop = self._root.get_full_property(self._net_active, self._X.AnyPropertyType)
            if not prop or not prop.value or not prop.value[0]:
                return None
            return self._display.create_resource_object("window", prop.value[0])
        window = self._display.get_input_focus().focus  # a Window, or PointerRoot / None as ints
        # The focus may sit on a child without WM_CLASS: walk up to the client window.
        while hasattr(window, "get_wm_class") and window != self._root:
            if window.get_wm_class() is not None:
                return window
            window = window.query_tree().parent
        return None

    def _refresh(self) -> None:
        from Xlib import error as xerror

        try:
            window = self._focused_window()
            if window is None or window == self._root:
                app, title, pid = None, "", None
            else:
                app, title, pid = _app_id(window), self._title(window), _window_pid(window, self._net_pid)
                if window != self._watched:
                    # Titles change in place (browser tabs, "Password:" prompts): watch them.
                    window.change_attributes(event_mask=self._X.PropertyChangeMask)
                    self._watched = window
        except (xerror.BadWindow, xerror.BadDrawable, xerror.BadMatch):
            return  # the window vanished between event and query; the next event tells more
        if (app, title) != self._last:
            self._last = (app, title)
            self._emit(KeyEvent(self._clock(), FOCUS, app=app or "unknown", title=title, secure=False, pid=pid))

    def _title(self, window) -> str:
        prop = window.get_full_property(self._net_name, self._utf8)
        if prop and prop.value:
            value = prop.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        name = window.get_wm_name()
        if isinstance(name, bytes):
            return name.decode("latin-1")
        return name or ""


def _app_id(window) -> str | None:
    wm_class = window.get_wm_class()
    if not wm_class:
        return None
    instance, cls = wm_class
    return (cls or instance or "").lower() or None


def _window_pid(window, net_wm_pid) -> int | None:
    """The window's process (EWMH ``_NET_WM_PID``), to match it with its accessibility app."""
    from Xlib import X

    prop = window.get_full_property(net_wm_pid, X.AnyPropertyType)
    return int(prop.value[0]) if prop and len(prop.value) else None


def source(clock=time.monotonic) -> PynputSource:
    """The X11 event source; call :func:`check` first (``capture.backend()`` does)."""
    return PynputSource(_WindowTracker, has_secure_input_flag=HAS_SECURE_INPUT_FLAG, clock=clock)

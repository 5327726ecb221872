"""Event sources and text reconstruction.

Live sources are chosen at run time with explicit imports (so packagers see
every one) and an environment override, ``IME_AGENT_CAPTURE_BACKEND`` (one name,
or several separated by commas, run together on one clock). On Linux the
accessibility bus (``atspi``: committed text, such as Chinese from an input
method, and password fields by role) runs beside the X11 keyboard (``xorg``)
whenever the bus is there, and alone on Wayland. Recorded sessions need no
backend at all; :mod:`ime_agent.capture._scripted` plays scripts for the tests
and the demo.
"""

from __future__ import annotations

import contextlib
import sys
import time

from ime_agent import env
from ime_agent.capture._base import EventSource, KeyEvent, Segment
from ime_agent.capture._replay import ReplayResult, iter_events, reconstruct, replay_session
from ime_agent.capture.compose import CompositeSource
from ime_agent.errors import BackendUnavailable

__all__ = [
    "KeyEvent", "Segment", "ReplayResult", "EventSource", "iter_events", "reconstruct", "replay_session",
    "backends", "open_source",
]


def xorg():
    from ime_agent.capture import _xorg as module

    return module


def atspi():
    from ime_agent.capture import _atspi as module

    return module


def win32():
    from ime_agent.capture import _win32 as module

    return module


def darwin():
    from ime_agent.capture import _darwin as module

    return module


_BACKENDS = {"xorg": xorg, "atspi": atspi, "win32": win32, "darwin": darwin}


def _names() -> list[tuple[str, bool]]:
    """``(backend, required)`` in start order: the accessibility source first, so it knows the
    focused field before the first key is heard."""
    forced = env.get("IME_AGENT_CAPTURE_BACKEND")
    if forced:
        names = [name.strip() for name in forced.split(",") if name.strip()]
        unknown = [name for name in names if name not in _BACKENDS]
        if unknown or not names:
            raise BackendUnavailable(
                f"IME_AGENT_CAPTURE_BACKEND={forced!r} names no backend; use one or more of {', '.join(_BACKENDS)}"
            )
        return sorted(((name, True) for name in names), key=lambda item: item[0] != "atspi")
    if sys.platform == "win32":
        return [("win32", True)]
    if sys.platform == "darwin":
        return [("darwin", True)]
    if not env.get("DISPLAY") and env.get("WAYLAND_DISPLAY"):
        return [("atspi", True)]  # pynput cannot listen on Wayland: the bus alone
    return [("atspi", False), ("xorg", True)]


def backends() -> list:
    """The live backend modules for this system, each checked (``check()``).

    A required module that cannot run raises :class:`BackendUnavailable` with the fix
    (several, joined); an optional one (the accessibility bus beside X11) is left out."""
    modules, errors = [], []
    for name, required in _names():
        try:
            module = _BACKENDS[name]()
            module.check()
            modules.append(module)
        except BackendUnavailable as exc:
            if required:
                errors.append(str(exc))
    if errors:
        raise BackendUnavailable("; ".join(errors))
    return modules


def open_source(clock=time.monotonic) -> EventSource:
    """The live source of this system: one backend's, or several composed on one clock."""
    sources = [module.source(clock) for module in backends()]
    return sources[0] if len(sources) == 1 else CompositeSource(sources)


@contextlib.contextmanager
def accessibility_on():
    """While capture runs on Linux: the desktop's accessibility flag on, as a screen reader sets it,
    so that toolkits such as Qt put their windows on the bus; the user's setting comes back after."""
    if not sys.platform.startswith("linux"):
        yield
        return
    from ime_agent.capture import _atspi

    previous = _atspi.enable_accessibility()
    try:
        yield
    finally:
        _atspi.restore_accessibility(previous)

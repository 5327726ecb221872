"""Event sources and text reconstruction.

Live backends are chosen at run time with explicit imports (so packagers see
every one) and an environment override, ``IME_AGENT_CAPTURE_BACKEND`` =
``xorg`` | ``win32`` | ``darwin``. Recorded sessions need no backend at all.
"""

from __future__ import annotations

import os
import sys

from ime_agent.capture._base import KeyEvent, Segment
from ime_agent.capture._replay import ReplayResult, iter_events, reconstruct, replay_session
from ime_agent.errors import BackendUnavailable

__all__ = [
    "KeyEvent", "Segment", "ReplayResult", "iter_events", "reconstruct", "replay_session",
    "backend",
]


def xorg():
    from ime_agent.capture import _xorg as module

    return module


def win32():
    from ime_agent.capture import _win32 as module

    return module


def darwin():
    from ime_agent.capture import _darwin as module

    return module


_BACKENDS = {"xorg": xorg, "win32": win32, "darwin": darwin}


def _candidates() -> list[str]:
    forced = os.environ.get("IME_AGENT_CAPTURE_BACKEND")
    if forced:
        if forced not in _BACKENDS:
            raise BackendUnavailable(
                f"IME_AGENT_CAPTURE_BACKEND={forced!r} is not a backend; use one of {', '.join(_BACKENDS)}"
            )
        return [forced]
    if sys.platform == "win32":
        return ["win32"]
    if sys.platform == "darwin":
        return ["darwin"]
    return ["xorg"]


def backend():
    """The live capture backend module for this system.

    Each module checks what it needs on import (``check()``) and raises
    :class:`BackendUnavailable` with the fix; that message is passed on as is.
    """
    errors = []
    for name in _candidates():
        try:
            module = _BACKENDS[name]()
            module.check()
            return module
        except BackendUnavailable as exc:
            errors.append(str(exc))
    raise BackendUnavailable("; ".join(errors))

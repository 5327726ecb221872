"""The event model shared by every capture backend, and the source interface.

Events follow the key-event session format v1 (press / release / focus / click /
text). A :class:`Segment` is a finished piece of text; it holds raw typed text and
so lives only in memory, between reconstruction and classification.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

PRESS = "press"
RELEASE = "release"
FOCUS = "focus"
CLICK = "click"
TEXT = "text"
EVENT_TYPES = frozenset((PRESS, RELEASE, FOCUS, CLICK, TEXT))


@dataclass(slots=True, frozen=True)
class KeyEvent:
    """One observation of a keyboard hook or window tracker.

    ``t`` is seconds since the session (or live capture) started. ``key`` is set
    for press/release, ``app``/``title``/``secure`` for focus, ``text`` for text.
    """

    t: float
    type: str
    key: str | None = None
    app: str | None = None
    title: str | None = None
    secure: bool = False
    text: str | None = None

    def __repr__(self) -> str:
        # Keys and committed text are what the user typed: keep them out of
        # reprs, tracebacks and logs.
        return f"KeyEvent(t={self.t:.3f}, type={self.type!r})"


@dataclass(slots=True, frozen=True)
class Segment:
    """A finished piece of text, committed for ``reason`` (enter, idle, focus, ...).

    ``t_start``/``t_end`` are on the capture's (or the recording's) clock; live capture
    also stamps ``wall_end``, the Unix time at which the segment was finished, read
    from the wall clock when it commits (so a suspend in between cannot skew it).
    """

    text: str
    app: str | None
    reason: str
    t_start: float
    t_end: float
    wall_end: float | None = None

    def __repr__(self) -> str:
        return f"Segment(app={self.app!r}, reason={self.reason!r}, chars={len(self.text)})"


Emit = Callable[[KeyEvent], None]

# Capability flags a source declares; the guards read them.
#: The source reports secure (password) fields itself, not only window titles.
KNOWS_SECURE_FIELDS = "knows_secure_fields"
#: The source reports keystrokes.
REPORTS_KEYS = "reports_keys"
#: The source reports which window or field has focus.
REPORTS_FOCUS = "reports_focus"
#: The source reports committed text (input methods), not only keystrokes.
REPORTS_TEXT = "reports_text"


class EventSource(Protocol):
    """A live source of events: keyboard hook, window tracker, accessibility bus, a script.

    ``start`` returns once the source is observing and calls ``emit`` from its own
    threads for every event; ``emit`` must be cheap (it only filters and enqueues).
    ``alive`` is False once the source can no longer observe (its display or bus went
    away): capture then drops everything until a new source is started.
    """

    name: str
    #: Capability flags (:data:`KNOWS_SECURE_FIELDS`, :data:`REPORTS_KEYS`, ...).
    capabilities: frozenset[str]

    def start(self, emit: Emit) -> None: ...

    def stop(self) -> None: ...

    def alive(self) -> bool: ...

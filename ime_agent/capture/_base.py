"""The event model shared by every capture backend, and the source interface.

Events follow the key-event session format (docs/key-events.md): v1 has press /
release / focus / click / text; v2 adds what an accessibility bus reports about
the focused text field (field / insert / delete / caret). A :class:`Segment` is a
finished piece of text; it holds raw typed text and so lives only in memory,
between reconstruction and classification.
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

# Format v2: the accessibility bus's view of the focused text field.
FIELD = "field"    # keyboard focus is in this field (app, role, secure, reports_text, pid)
INSERT = "insert"  # text inserted into the focused field at a character offset
DELETE = "delete"  # characters deleted from the focused field at an offset
CARET = "caret"    # the focused field's caret moved to an offset
EDIT_TYPES = frozenset((INSERT, DELETE, CARET))
EVENT_TYPES_V2 = EVENT_TYPES | EDIT_TYPES | {FIELD}


@dataclass(slots=True, frozen=True)
class KeyEvent:
    """One observation of a keyboard hook or window tracker.

    ``t`` is seconds since the session (or live capture) started. ``key`` is set
    for press/release, ``app``/``title``/``secure`` for focus, ``text`` for text.

    Format v2 fields (all optional): ``pid`` is the process behind a focus or
    field event; a field event also sets ``role``, ``toolkit`` and
    ``reports_text`` (the field reports its text changes); insert sets
    ``offset`` and ``text``, delete ``offset`` and ``length``, caret ``offset``.
    """

    t: float
    type: str
    key: str | None = None
    app: str | None = None
    title: str | None = None
    secure: bool = False
    text: str | None = None
    pid: int | None = None
    role: str | None = None
    toolkit: str | None = None
    reports_text: bool = False
    offset: int | None = None
    length: int | None = None

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

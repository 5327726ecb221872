"""Guards that drop input before anything is buffered.

A :class:`GuardFilter` sits between the event sources and the reconstruction: it
sees every event first and forwards only what may be kept. Key presses and
committed text are dropped on the spot (counted, never stored) while capture is
paused, while a source is down, and while focus is in a secure field, a denied
app, or a window the agent cannot identify — when it cannot tell, it drops.
Modifier presses and releases still pass, so shortcut state stays right after
focus returns. A blocked focus is forwarded as a *secure* focus, so the
reconstruction's own secure-field rule is a second line of defence. The same
holds for a field the accessibility bus reports (format v2): a secure or blocked
field in the focused window drops keys and edits alike.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, replace

from ime_agent import defaults
from ime_agent.capture._base import EDIT_TYPES, FIELD, FOCUS, PRESS, REPORTS_FOCUS, TEXT, Emit, KeyEvent
from ime_agent.capture.text import MODIFIERS, field_applies

SECURE = "secure"
DENIED = "denied"
UNKNOWN = "unknown"  # no app could be identified for the focused window
PAUSED = "paused"
SOURCE_DOWN = "source_down"  # a capture source stopped observing
UNKNOWN_APP = "unknown"


@dataclass(frozen=True)
class Guards:
    """Which focused windows must never be captured."""

    denied_apps: frozenset[str] = frozenset(a.casefold() for a in defaults.DENIED_APPS)
    secure_title_patterns: tuple[str, ...] = tuple(p.casefold() for p in defaults.SECURE_TITLE_PATTERNS)
    #: Live capture cannot tell what an unidentified window is, so it drops; a recording
    #: (format v1) names its apps itself and is replayed as recorded.
    block_unknown: bool = True

    @classmethod
    def from_config(cls, config) -> "Guards":
        return cls(
            denied_apps=frozenset(a.casefold() for a in config.denied_apps),
            secure_title_patterns=tuple(p.casefold() for p in config.secure_title_patterns),
        )

    def block_reason(self, app: str | None, title: str | None, secure: bool) -> str | None:
        """Why input in this focus must be dropped (``secure``, ``denied``, ``unknown``), or None."""
        if secure:
            return SECURE
        if self.block_unknown and (not app or app == UNKNOWN_APP):
            return UNKNOWN
        if app.casefold() in self.denied_apps:
            return DENIED
        if title:
            folded = title.casefold()
            if any(pattern in folded for pattern in self.secure_title_patterns):
                return SECURE
        return None


class PauseState:
    """A flag the agent flips; read on every event, so it is a plain attribute."""

    __slots__ = ("paused",)

    def __init__(self, paused: bool = False):
        self.paused = paused


class GuardFilter:
    """Callable that filters events and forwards the rest to ``downstream``.

    In live capture (``guards.block_unknown``) focus is unknown until the first focus
    event, so nothing is kept before it.
    """

    def __init__(self, guards: Guards, downstream: Emit, pause: PauseState | None = None,
                 capabilities: frozenset[str] | None = None):
        self._guards = guards
        self._downstream = downstream
        self._pause = pause or PauseState()
        self._blocked: str | None = UNKNOWN if guards.block_unknown else None
        # A source that cannot say where keys go (no focus reports) cannot be judged: nothing is kept.
        self._blind = capabilities is not None and REPORTS_FOCUS not in capabilities
        self._down: set[str] = set()
        self._lock = threading.Lock()  # sources emit from several threads
        self._window: KeyEvent | None = None
        self._field: KeyEvent | None = None
        self._field_blocked: str | None = None
        self.dropped: Counter[str] = Counter()

    @property
    def blocked_reason(self) -> str | None:
        return self._blocked

    def source_down(self, name: str) -> None:
        """A source stopped observing: drop everything until :meth:`source_up`."""
        with self._lock:
            self._down.add(name)

    def source_up(self, name: str) -> None:
        with self._lock:
            self._down.discard(name)

    def __call__(self, event: KeyEvent) -> None:
        with self._lock:
            kind = event.type
            if kind == FOCUS:
                self._blocked = self._guards.block_reason(event.app, event.title, event.secure)
                if self._blocked and not event.secure:
                    event = replace(event, secure=True)
                self._window = event
                self._downstream(event)
                return
            if kind == FIELD:
                if self._window is None:
                    self._blocked = None  # no window tracker (Wayland): the field alone says where keys go
                self._downstream(self._check_field(event))
                return
            if kind == PRESS or kind == TEXT or kind in EDIT_TYPES:
                reason = PAUSED if self._pause.paused else (
                    SOURCE_DOWN if self._down else UNKNOWN if self._blind else self._blocked or self._field_block())
                if reason is not None and not (kind == PRESS and event.key in MODIFIERS):
                    self.dropped[reason] += 1
                    return
            self._downstream(event)

    def _check_field(self, event: KeyEvent) -> KeyEvent:
        """Judge an accessibility field like a window: its app, its window's title, its role."""
        self._field_blocked = self._guards.block_reason(event.app, event.title, event.secure)
        if self._field_blocked and not event.secure:
            event = replace(event, secure=True)
        self._field = event
        return event

    def _field_block(self) -> str | None:
        if self._field_blocked and field_applies(self._window, self._field):
            return self._field_blocked
        return None

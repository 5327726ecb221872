"""Guards that drop input before anything is buffered.

A :class:`GuardFilter` sits between an event source and the reconstruction: it
sees every event first and forwards only what may be kept. While capture is
paused, or focus is in a secure field or a denied app, key presses and committed
text are dropped on the spot (counted, never stored); modifier presses and
releases still pass so shortcut state stays right after focus returns. A blocked
focus is forwarded as a *secure* focus, so the reconstruction's own secure-field
rule is a second line of defence. The same holds for a field the accessibility
bus reports (format v2): a secure or blocked field in the focused window drops
keys and edits alike.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from dataclasses import replace

from ime_agent.capture._base import EDIT_TYPES, FIELD, FOCUS, PRESS, TEXT, Emit, KeyEvent
from ime_agent.capture.text import MODIFIERS, field_applies
from ime_agent.config import DEFAULT_DENIED_APPS, DEFAULT_SECURE_TITLE_PATTERNS, Config

SECURE = "secure"
DENIED = "denied"
PAUSED = "paused"


@dataclass(frozen=True)
class Guards:
    """Which focused windows must never be captured."""

    denied_apps: frozenset[str] = frozenset(a.casefold() for a in DEFAULT_DENIED_APPS)
    secure_title_patterns: tuple[str, ...] = tuple(p.casefold() for p in DEFAULT_SECURE_TITLE_PATTERNS)

    @classmethod
    def from_config(cls, config: Config) -> "Guards":
        return cls(
            denied_apps=frozenset(a.casefold() for a in config.denied_apps),
            secure_title_patterns=tuple(p.casefold() for p in config.secure_title_patterns),
        )

    def block_reason(self, app: str | None, title: str | None, secure: bool) -> str | None:
        """Why input in this focus must be dropped (``secure`` / ``denied``), or None."""
        if secure:
            return SECURE
        if app and app.casefold() in self.denied_apps:
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
    """Callable that filters events and forwards the rest to ``downstream``."""

    def __init__(self, guards: Guards, downstream: Emit, pause: PauseState | None = None):
        self._guards = guards
        self._downstream = downstream
        self._pause = pause or PauseState()
        self._blocked: str | None = None
        self._window: KeyEvent | None = None
        self._field: KeyEvent | None = None
        self._field_blocked: str | None = None
        self.dropped: Counter[str] = Counter()

    @property
    def blocked_reason(self) -> str | None:
        return self._blocked

    def __call__(self, event: KeyEvent) -> None:
        kind = event.type
        if kind == FOCUS:
            self._blocked = self._guards.block_reason(event.app, event.title, event.secure)
            if self._blocked and not event.secure:
                event = replace(event, secure=True)
            self._window = event
            self._downstream(event)
            return
        if kind == FIELD:
            self._downstream(self._check_field(event))
            return
        if kind in EDIT_TYPES:
            reason = PAUSED if self._pause.paused else self._blocked or self._field_block()
            if reason is not None:
                self.dropped[reason] += 1
                return
        if kind == PRESS or kind == TEXT:
            reason = PAUSED if self._pause.paused else self._blocked or self._field_block()
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

"""Guards that drop input before anything is buffered.

A :class:`GuardFilter` sits between an event source and the reconstruction: it
sees every event first and forwards only what may be kept. While capture is
paused, or focus is in a secure field or a denied app, key presses and committed
text are dropped on the spot (counted, never stored); modifier presses and
releases still pass so shortcut state stays right after focus returns. A blocked
focus is forwarded as a *secure* focus, so the reconstruction's own secure-field
rule is a second line of defence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ime_agent.capture._base import FOCUS, PRESS, TEXT, Emit, KeyEvent
from ime_agent.capture.text import MODIFIERS
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
        self.dropped: Counter[str] = Counter()

    @property
    def blocked_reason(self) -> str | None:
        return self._blocked

    def __call__(self, event: KeyEvent) -> None:
        kind = event.type
        if kind == FOCUS:
            self._blocked = self._guards.block_reason(event.app, event.title, event.secure)
            if self._blocked and not event.secure:
                event = KeyEvent(event.t, FOCUS, app=event.app, title=event.title, secure=True)
            self._downstream(event)
            return
        if kind == PRESS or kind == TEXT:
            reason = PAUSED if self._pause.paused else self._blocked
            if reason is not None and not (kind == PRESS and event.key in MODIFIERS):
                self.dropped[reason] += 1
                return
        self._downstream(event)

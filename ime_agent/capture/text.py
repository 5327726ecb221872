"""Text reconstruction: key events in, finished segments out.

A pure state machine (no I/O, no threads, no clock) implementing the rules of
the key-event format v1 (docs/key-events.md). The caller feeds events in
time order and, for live capture, calls :meth:`Reconstructor.tick` with the
current time so idle commits fire even when no further key arrives.

The buffer is a gap buffer: ``_left`` holds the characters before the caret in
order, ``_right`` those after it in reverse, so typing, backspace, delete and
caret moves are all O(1) at the caret.
"""

from __future__ import annotations

from typing import Callable

from ime_agent import defaults
from ime_agent.capture._base import CLICK, FOCUS, PRESS, RELEASE, TEXT, KeyEvent, Segment

DEFAULT_IDLE_COMMIT = defaults.IDLE_COMMIT_SECONDS
#: Text longer than this is committed in pieces (reason ``length``), so memory stays bounded.
MAX_SEGMENT_CHARS = defaults.MAX_SEGMENT_CHARS

# Float timestamps such as 12.49 - 2.49 can land a hair under the limit.
_EPSILON = 1e-9

SHIFT = frozenset(("Key.shift", "Key.shift_l", "Key.shift_r"))
CTRL = frozenset(("Key.ctrl", "Key.ctrl_l", "Key.ctrl_r"))
ALT = frozenset(("Key.alt", "Key.alt_l", "Key.alt_r"))
CMD = frozenset(("Key.cmd", "Key.cmd_l", "Key.cmd_r"))
MODIFIERS = SHIFT | CTRL | ALT | CMD

# Control characters some platforms report for ctrl+letter instead of the letter.
_CTRL_A = ("a", "\x01")
_CTRL_C = ("c", "\x03")

# Commit reasons, as they appear in segments.
ENTER, TAB, IDLE, NAVIGATE, SHORTCUT, END, LENGTH = "enter", "tab", "idle", "navigate", "shortcut", "end", "length"

_NAVIGATE_KEYS = frozenset(("Key.up", "Key.down", "Key.page_up", "Key.page_down"))


class Reconstructor:
    """Rebuilds what the user meant to type from a stream of :class:`KeyEvent`.

    Finished segments are passed to ``on_segment``; the text they carry exists only
    in memory and is the caller's to classify and forget.
    """

    def __init__(self, on_segment: Callable[[Segment], None], idle_commit: float = DEFAULT_IDLE_COMMIT):
        if not idle_commit > 0:  # also refuses NaN
            raise ValueError("idle_commit must be positive")
        self._on_segment = on_segment
        self._idle = idle_commit - _EPSILON
        self._idle_commit = idle_commit
        self._left: list[str] = []
        self._right: list[str] = []
        self._selected_all = False
        self._t_start: float | None = None
        self._last_activity: float | None = None
        self._held: set[str] = set()
        self._app: str | None = None
        self._secure = False
        self._special = {
            "Key.space": self._space,
            "Key.backspace": self._backspace,
            "Key.delete": self._delete,
            "Key.left": self._caret_left,
            "Key.right": self._caret_right,
            "Key.home": self._home,
            "Key.end": self._end,
            "Key.enter": self._enter,
            "Key.tab": self._tab,
            "Key.esc": self._escape,
        }

    # -- public interface -------------------------------------------------

    @property
    def app(self) -> str | None:
        return self._app

    @property
    def has_text(self) -> bool:
        return bool(self._left or self._right)

    def feed(self, event: KeyEvent) -> None:
        """Apply one event (events must come in time order)."""
        t = event.t
        if (self._left or self._right) and self._last_activity is not None and t - self._last_activity >= self._idle:
            self._commit(IDLE, self._last_activity + self._idle_commit)
        kind = event.type
        if kind == PRESS:
            self._press(event.key, t)
        elif kind == RELEASE:
            self._held.discard(event.key)
        elif kind == TEXT:
            if not self._secure:
                self._last_activity = t
                self._insert(event.text, t)
        elif kind == FOCUS:
            self._commit(FOCUS, t)
            self._app = event.app
            self._secure = bool(event.secure)
        elif kind == CLICK:
            self._commit(CLICK, t)

    def idle_deadline(self) -> float | None:
        """When an idle commit falls due if nothing else happens, or None."""
        if (self._left or self._right) and self._last_activity is not None:
            return self._last_activity + self._idle_commit
        return None

    def tick(self, now: float) -> None:
        """Fire the idle commit if it is due at ``now`` (live capture's timer)."""
        deadline = self.idle_deadline()
        if deadline is not None and now >= deadline - _EPSILON:
            self._commit(IDLE, deadline)

    def finish(self, t: float) -> None:
        """End of the session: commit whatever is left."""
        self._commit(END, t)

    def discard(self) -> None:
        """Forget the buffer without a segment (used when capture is paused)."""
        self._reset()

    # -- key handling -----------------------------------------------------

    def _press(self, key: str, t: float) -> None:
        if key in MODIFIERS:
            self._held.add(key)
            return
        if self._secure:
            # Nothing typed into a secure field is kept, not even its timing.
            return
        self._last_activity = t
        held = self._held
        if held and not held <= SHIFT:
            self._shortcut(key, t)
            return
        if len(key) == 1:
            self._insert(key, t)
            return
        handler = self._special.get(key)
        if handler is not None:
            handler(t)
        elif key in _NAVIGATE_KEYS:
            self._commit(NAVIGATE, t)
        # Any other special key (F-keys, caps lock, media keys, ...) is ignored.

    def _shortcut(self, key: str, t: float) -> None:
        held = self._held
        ctrl = not held.isdisjoint(CTRL)
        cmd = not held.isdisjoint(CMD)
        alt = not held.isdisjoint(ALT)
        if (ctrl or cmd) and key in _CTRL_A:
            if self._left or self._right:
                self._selected_all = True
        elif (ctrl or alt) and key == "Key.backspace":
            if self._selected_all:
                self._replace_all("", t)
            else:
                self._delete_word()
        elif (ctrl or cmd) and key in _CTRL_C:
            pass  # copying changes nothing
        else:
            self._commit(SHORTCUT, t)

    # -- editing ----------------------------------------------------------

    def _insert(self, text: str, t: float) -> None:
        if self._selected_all:
            self._replace_all(text, t)
            return
        if self._t_start is None:
            self._t_start = t
        if len(text) == 1:
            self._left.append(text)
        else:
            self._left.extend(text)
        if len(self._left) + len(self._right) >= MAX_SEGMENT_CHARS:
            self._commit(LENGTH, t)

    def _replace_all(self, text: str, t: float) -> None:
        self._selected_all = False
        self._left.clear()
        self._right.clear()
        self._t_start = t if text else None
        self._left.extend(text)
        if len(self._left) >= MAX_SEGMENT_CHARS:
            self._commit(LENGTH, t)

    def _space(self, t: float) -> None:
        self._insert(" ", t)

    def _backspace(self, t: float) -> None:
        if self._selected_all:
            self._replace_all("", t)
        elif self._left:
            self._left.pop()

    def _delete(self, t: float) -> None:
        if self._selected_all:
            self._replace_all("", t)
        elif self._right:
            self._right.pop()

    def _delete_word(self) -> None:
        left = self._left
        while left and left[-1].isspace():
            left.pop()
        while left and not left[-1].isspace():
            left.pop()

    def _caret_left(self, t: float) -> None:
        if self._selected_all:
            self._home(t)
        elif self._left:
            self._right.append(self._left.pop())

    def _caret_right(self, t: float) -> None:
        if self._selected_all:
            self._end(t)
        elif self._right:
            self._left.append(self._right.pop())

    def _home(self, t: float) -> None:
        self._selected_all = False
        self._left.reverse()
        self._right.extend(self._left)
        self._left.clear()

    def _end(self, t: float) -> None:
        self._selected_all = False
        self._right.reverse()
        self._left.extend(self._right)
        self._right.clear()

    def _enter(self, t: float) -> None:
        if not self._held.isdisjoint(SHIFT):
            self._insert("\n", t)
        else:
            self._commit(ENTER, t)

    def _tab(self, t: float) -> None:
        self._commit(TAB, t)

    def _escape(self, t: float) -> None:
        self._reset()

    # -- committing -------------------------------------------------------

    def _commit(self, reason: str, t: float) -> None:
        if not (self._left or self._right):
            self._selected_all = False
            return
        self._right.reverse()
        text = ("".join(self._left) + "".join(self._right)).strip()
        t_start = self._t_start if self._t_start is not None else t
        self._reset()
        if text:
            self._on_segment(Segment(text, self._app, reason, t_start, t))

    def _reset(self) -> None:
        self._left.clear()
        self._right.clear()
        self._selected_all = False
        self._t_start = None

"""Text reconstruction: key events in, finished segments out.

A pure state machine (no I/O, no threads, no clock) implementing the rules of
the key-event format (docs/key-events.md). The caller feeds events in time
order and, for live capture, calls :meth:`Reconstructor.tick` with the current
time so idle commits fire even when no further key arrives.

Format v1 rebuilds text from keystrokes. Format v2 adds the accessibility bus's
view of the focused field (the last part of this module): where the focused
field reports its text changes, the text comes from those edits alone and
keystrokes only commit, so nothing is counted twice and input-method
composition keys never become text.

The buffer is a gap buffer: ``_left`` holds the characters before the caret in
order, ``_right`` those after it in reverse, so typing, backspace, delete and
caret moves are all O(1) at the caret.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from ime_agent import defaults
from ime_agent.capture._base import (
    CARET, CLICK, DELETE, FIELD, FOCUS, INSERT, PRESS, RELEASE, TEXT, KeyEvent, Segment,
)

DEFAULT_IDLE_COMMIT = defaults.IDLE_COMMIT_SECONDS
#: Text longer than this is committed in pieces (reason ``length``), so memory stays bounded.
MAX_SEGMENT_CHARS = defaults.MAX_SEGMENT_CHARS
UNKNOWN_APP = "unknown"  # what window trackers report when no window has focus
# How long a keystroke into a text-reporting field may wait for the field's edit
# event before a commit behind it goes ahead anyway (see _hold_if_needed).
DEFAULT_EDIT_SETTLE = 0.5

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

    def __init__(self, on_segment: Callable[[Segment], None], idle_commit: float = DEFAULT_IDLE_COMMIT,
                 edit_settle: float = DEFAULT_EDIT_SETTLE):
        if not idle_commit > 0:  # also refuses NaN
            raise ValueError("idle_commit must be positive")
        if edit_settle <= 0:
            raise ValueError("edit_settle must be positive")
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
        self._init_fields(edit_settle)

    # -- public interface -------------------------------------------------

    @property
    def app(self) -> str | None:
        return self._app

    @property
    def has_text(self) -> bool:
        return bool(self._left or self._right)

    def feed(self, event: KeyEvent) -> None:
        """Apply one event (events must come in time order)."""
        self._settle(event.t)
        self._dispatch(event)

    def _apply(self, event: KeyEvent) -> None:
        t = event.t
        if (self._left or self._right) and self._last_activity is not None and t - self._last_activity >= self._idle:
            self._commit(IDLE, self._last_activity + self._idle_commit)
        kind = event.type
        if kind == PRESS:
            if self._edits and event.key not in MODIFIERS:
                self._press_in_field(event.key, t)
            else:
                self._press(event.key, t)
        elif kind == RELEASE:
            self._held.discard(event.key)
        elif kind == TEXT:
            if not self._secure and not self._edits:  # a text-reporting field reports it itself
                self._last_activity = t
                self._insert(event.text, t)
        elif kind == FOCUS:
            field = self._field
            if field is None or self._field_of(event) is not field:
                self._commit(FOCUS, t)  # not when the tracker only catches up with the bus
            self._window = event
            self._field_is_newer = False
            self._resolve_focus()
        elif kind == FIELD:
            self._change_field(event)
        elif kind == CLICK:
            self._commit(CLICK, t)
        elif kind in (INSERT, DELETE, CARET):
            self._edit(event)

    def idle_deadline(self) -> float | None:
        """When an idle commit (or a held commit) falls due if nothing else happens, or None."""
        idle = None
        if (self._left or self._right) and self._last_activity is not None:
            idle = self._last_activity + self._idle_commit
        held = self._hold_deadline()
        if held is not None and (idle is None or held < idle):
            return held
        return idle

    def tick(self, now: float) -> None:
        """Fire the idle commit if it is due at ``now`` (live capture's timer)."""
        self._settle(now)
        if (self._left or self._right) and self._last_activity is not None:
            deadline = self._last_activity + self._idle_commit
            if now >= deadline - _EPSILON:
                self._commit(IDLE, deadline)

    def finish(self, t: float) -> None:
        """End of the session: commit whatever is left."""
        self._release_hold()
        self._commit(END, t)

    def discard(self) -> None:
        """Forget the buffer without a segment (used when capture is paused)."""
        self._held_events = None
        self._expected.clear()
        self._before_hold = 0
        self._awaiting_field = False
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

    # -- format v2: fields that report their own text ---------------------
    #
    # A ``field`` event says where the accessibility bus sees keyboard focus in
    # one process; the last field of each process is kept, and the one of the
    # focused window's process applies (see field_applies). A field without a
    # process (the bus is gone) replaces them all and applies everywhere. In an applying field that reports its text, the buffer is
    # the span of text inserted since the last commit (``_left``, starting at
    # field offset ``_span_start``), kept up to date by insert / delete events;
    # keystrokes only commit (Enter, Tab, ...). A secure field keeps nothing.
    #
    # Keystrokes and edits come over different connections, so the edit caused
    # by the last key before an Enter may arrive after the Enter. Each text key
    # pressed in such a field expects an edit; an event that would commit while
    # expectations are open is held, with everything after it, until edits have
    # answered them (those edits go first) or ``edit_settle`` seconds pass.
    # Input-method composition keys are answered by the one insert of the
    # commit, or time out. Likewise the window tracker reports a new window
    # before the bus reports its field: once the bus has reported any field,
    # events after a window focus wait up to ``edit_settle`` for that window's
    # field, so keys typed there are judged by the right source.

    def _init_fields(self, edit_settle: float) -> None:
        self._settle_time = edit_settle
        self._window: KeyEvent | None = None
        self._field: KeyEvent | None = None  # the field of the focused window, if any
        self._fields: dict[int | None, KeyEvent] = {}  # the last field of each process
        self._latest_field: KeyEvent | None = None
        self._field_is_newer = False  # a field came after the last window focus
        self._edits = False
        self._span_start = 0
        self._expected: deque[tuple[float, str]] = deque()  # (time, INSERT | DELETE), oldest first
        self._held_events: list[KeyEvent] | None = None  # the first is the event that began the hold
        self._before_hold = 0  # how many of _expected were open when the hold began
        self._awaiting_field = False  # the hold waits for a field event, until _field_wait_until
        self._field_wait_until = 0.0

    def _field_of(self, window: KeyEvent | None, *, newer: bool = False) -> KeyEvent | None:
        fields = self._fields
        if None in fields:
            return fields[None]
        if _unknown_window(window) or newer:
            return self._latest_field
        if window.pid is not None:
            return fields.get(window.pid)
        return next((f for f in reversed(fields.values()) if field_applies(window, f)), None)

    def _resolve_focus(self) -> None:
        window = self._window
        field = self._field = self._field_of(window, newer=self._field_is_newer)
        if field is not None and (_unknown_window(window) or self._field_is_newer):
            window = None  # the bus saw focus move after the tracker last reported: it knows better
        self._app = window.app if window is not None else (field.app if field is not None else None)
        self._secure = bool((window is not None and window.secure) or (field is not None and field.secure))
        self._edits = field is not None and field.reports_text and not self._secure

    def _change_field(self, event: KeyEvent) -> None:
        if self._field is not None or field_applies(self._window, event):
            self._commit(FOCUS, event.t)
        if event.pid is None:
            self._fields.clear()
        else:
            self._fields.pop(None, None)
            self._fields.pop(event.pid, None)  # re-inserted last: the newest field of all
        self._fields[event.pid] = event
        self._latest_field = event
        self._field_is_newer = True
        self._resolve_focus()

    def _field_key(self, key: str) -> str | None:
        """What a key does in a text-reporting field: INSERT / DELETE (expects that edit),
        a commit reason, or None."""
        held = self._held
        if held and not held <= SHIFT:
            ctrl_or_cmd = not held.isdisjoint(CTRL) or not held.isdisjoint(CMD)
            if ctrl_or_cmd and (key in _CTRL_A or key in _CTRL_C):
                return None
            if (ctrl_or_cmd or not held.isdisjoint(ALT)) and key == "Key.backspace":
                return DELETE
            return SHORTCUT
        if len(key) == 1 or key == "Key.space":
            return INSERT
        if key in ("Key.backspace", "Key.delete"):
            return DELETE
        if key == "Key.enter":
            return INSERT if not held.isdisjoint(SHIFT) else ENTER
        if key == "Key.tab":
            return TAB
        if key in _NAVIGATE_KEYS:
            return NAVIGATE
        return None  # caret keys, Esc (may cancel a composition), F-keys: the field reports any effect

    def _press_in_field(self, key: str, t: float) -> None:
        self._last_activity = t
        action = self._field_key(key)
        if action in (INSERT, DELETE):
            self._expected.append((t, action))
        elif action is not None:
            self._commit(action, t)

    def _would_commit(self, event: KeyEvent) -> bool:
        kind = event.type
        if kind in (FOCUS, FIELD, CLICK):
            return True
        if kind == PRESS and event.key not in MODIFIERS:
            return self._field_key(event.key) not in (INSERT, DELETE, None)
        return False

    def _dispatch(self, event: KeyEvent) -> None:
        held = self._held_events
        if held is not None and self._awaiting_field:
            if event.type == FIELD:
                # The field belongs to the window focused last: it goes right after that focus.
                at = max(i for i, e in enumerate(held) if e.type == FOCUS) + 1
                held.insert(at, event)
                self._release_hold()
            else:
                held.append(event)
            return
        if held is not None:
            if event.type in (INSERT, DELETE) and self._answer(event, self._before_hold):
                self._apply(event)  # caused before the held commit: it goes first
                if self._before_hold == 0:
                    self._release_hold()
            else:
                self._held_events.append(event)
            return
        if self._edits and self._expected and self._would_commit(event):
            self._held_events = [event]
            self._before_hold = len(self._expected)
            return
        if event.type == FOCUS and self._fields and self._field_of(event) is None:
            self._held_events = [event]
            self._awaiting_field = True
            self._field_wait_until = event.t + self._settle_time
            return
        if event.type in (INSERT, DELETE):
            self._answer(event, len(self._expected))
        self._apply(event)

    def _answer(self, event: KeyEvent, among: int) -> bool:
        """Close the oldest matching expectation among the first ``among`` (an insert
        of several characters, an input method's commit, closes every insert)."""
        kind = event.type
        every = kind == INSERT and event.text is not None and len(event.text) > 1
        answered = False
        i = 0
        while i < among:
            if self._expected[i][1] == kind:
                del self._expected[i]
                among -= 1
                if self._held_events is not None:
                    self._before_hold -= 1
                answered = True
                if not every:
                    break
            else:
                i += 1
        return answered

    def _settle(self, now: float) -> None:
        """Forget expectations older than the settle time; release a hold they no longer block."""
        limit = now - self._settle_time + _EPSILON
        while self._expected and self._expected[0][0] <= limit:
            self._expected.popleft()
            if self._held_events is not None and self._before_hold:
                self._before_hold -= 1
        if self._held_events is None:
            return
        if self._awaiting_field:
            if now >= self._field_wait_until - _EPSILON:
                self._release_hold()
        elif self._before_hold == 0:
            self._release_hold()

    def _hold_deadline(self) -> float | None:
        if self._held_events is None:
            return None
        if self._awaiting_field:
            return self._field_wait_until
        if not self._before_hold:
            return None
        return self._expected[self._before_hold - 1][0] + self._settle_time

    def _release_hold(self) -> None:
        held = self._held_events
        if held is None:
            return
        for _ in range(self._before_hold):
            self._expected.popleft()  # unanswered: their edits, if any, come after the commit
        self._held_events = None
        self._before_hold = 0
        self._awaiting_field = False
        self._apply(held[0])  # already judged: it began the hold
        for event in held[1:]:
            self._dispatch(event)  # may start a new hold; the rest then joins it

    def _edit(self, event: KeyEvent) -> None:
        if not self._edits:
            return  # another window's field, or a secure one: never buffered
        span = self._left
        if event.type == INSERT:
            self._last_activity = event.t
            i = event.offset - self._span_start
            if span and not 0 <= i <= len(span):
                self._commit(NAVIGATE, event.t)  # typing resumed elsewhere in the field
            if not span:
                self._span_start, i = event.offset, 0
                self._t_start = event.t
            span[i:i] = event.text
        elif event.type == DELETE:
            start, end = self._span_start, self._span_start + len(span)
            low, high = event.offset, event.offset + event.length
            if not span or low >= end:
                return
            if high <= start:
                self._span_start -= event.length
                return
            del span[max(low, start) - start:min(high, end) - start]
            self._span_start = min(start, low)
        elif span and not 0 <= event.offset - self._span_start <= len(span):
            self._commit(NAVIGATE, event.t)  # the caret left the text typed since the last commit


def _unknown_window(window: KeyEvent | None) -> bool:
    """No window, or a tracker's focus on no known window (app ``unknown``, no pid)."""
    return window is None or (window.pid is None and window.app == UNKNOWN_APP)


def field_applies(window: KeyEvent | None, field: KeyEvent | None) -> bool:
    """Whether the accessibility bus's focused field is in the focused window.

    Without a window (Wayland, or before the window tracker reports) or without
    a pid (the bus is gone, or a hand-written session) the field applies. Else
    the processes must match; a window without a pid is matched by app id.
    """
    if field is None:
        return False
    if _unknown_window(window) or field.pid is None:
        return True
    if window.pid is not None:
        return window.pid == field.pid
    return (window.app or "").casefold() == (field.app or "").casefold()

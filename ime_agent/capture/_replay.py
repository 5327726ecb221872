"""Recorded key-event sessions (formats v1 and v2, docs/key-events.md).

Reading validates every line and raises :class:`SessionFormatError` naming the
file and line and how to fix it. Error messages never quote the line: it may
hold typed text.
"""

from __future__ import annotations

import json
import stat
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator

from ime_agent.capture._base import (
    CARET, CLICK, DELETE, FIELD, FOCUS, INSERT, PRESS, RELEASE, TEXT, KeyEvent, Segment,
)
from ime_agent.capture.guards import GuardFilter, Guards, PauseState
from ime_agent.capture.text import DEFAULT_IDLE_COMMIT, Reconstructor
from ime_agent.errors import SessionFormatError

_HINT = "fix or remove that line (format: docs/key-events.md)"
#: Bounds that keep reading a hostile or broken file fast and small.
MAX_LINE_BYTES = 1024 * 1024
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_T = 10_000_000.0  # seconds (about 115 days): longer recordings are split
_MAX_OFFSET = 2**31


def _reject_constant(name: str):
    raise ValueError(f"'{name}' is not a JSON number; write a finite number")


def _text(value: object, field: str, kind: str, *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"a {kind} event needs a {'non-empty ' if required else ''}string '{field}'")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800"
        raise ValueError(f"'{field}' is not valid Unicode (a lone surrogate)") from None
    return value


def parse_event(obj: object) -> KeyEvent:
    """Turn one decoded JSON value into a KeyEvent, or raise ValueError saying why."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    t = obj.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise ValueError("'t' must be a number of seconds")
    try:
        t = float(t)
    except OverflowError:
        raise ValueError(f"'t' must be from 0 to {MAX_T:.0f} seconds") from None
    if not 0 <= t <= MAX_T:  # also refuses NaN and infinities (1e400 parses as inf)
        raise ValueError(f"'t' must be from 0 to {MAX_T:.0f} seconds")
    kind = obj.get("type")
    if kind in (PRESS, RELEASE):
        return KeyEvent(t, kind, key=_text(obj.get("key"), "key", kind))
    if kind == FOCUS:
        app = _text(obj.get("app"), "app", kind, required=False)
        title = _text(obj.get("title", ""), "title", kind, required=False)
        secure = obj.get("secure", False)
        if not isinstance(secure, bool):
            raise ValueError("a focus event needs string 'app', string 'title' and boolean 'secure'")
        return KeyEvent(t, FOCUS, app=app, title=title, secure=secure)
    if kind == CLICK:
        return KeyEvent(t, CLICK)
    if kind == TEXT:
        return KeyEvent(t, TEXT, text=_text(obj.get("text"), "text", kind, required=False))
    raise ValueError("'type' must be one of press, release, focus, click, text, field, insert, delete, caret")


def _offset(obj: dict, name: str) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_OFFSET:
        raise ValueError(f"a {obj['type']} event needs a non-negative integer {name!r}")
    return value


def _optional_pid(obj: dict) -> int | None:
    pid = obj.get("pid")
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid < 2**32):
        raise ValueError("'pid' must be a positive integer when given")
    return pid


def parse_event_v2(obj: object) -> KeyEvent:
    """Like :func:`parse_event`, for format v2: v1 events (a focus may name its
    ``pid``) plus field, insert, delete and caret events."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    kind = obj.get("type")
    if kind not in (FIELD, INSERT, DELETE, CARET):
        event = parse_event(obj)
        if kind == FOCUS and "pid" in obj:
            return replace(event, pid=_optional_pid(obj))
        return event
    event = parse_event({"t": obj.get("t"), "type": CLICK})  # validates 't' alone
    if kind == FIELD:
        app = _text(obj.get("app"), "app", kind, required=False)
        title = _text(obj.get("title", ""), "title", kind, required=False)
        secure, reports = obj.get("secure"), obj.get("reports_text", False)
        role, toolkit = _text(obj.get("role"), "role", kind, required=False), obj.get("toolkit")
        if not isinstance(secure, bool):
            raise ValueError("a field event needs string 'app', string 'title' and boolean 'secure'")
        if toolkit is not None:
            toolkit = _text(toolkit, "toolkit", kind, required=False)
        if not isinstance(reports, bool):
            raise ValueError("'reports_text' must be true or false")
        return KeyEvent(event.t, FIELD, app=app, title=title, secure=secure, role=role, toolkit=toolkit,
                        reports_text=reports, pid=_optional_pid(obj))
    if kind == INSERT:
        return KeyEvent(event.t, INSERT, offset=_offset(obj, "offset"), text=_text(obj.get("text"), "text", kind))
    if kind == DELETE:
        return KeyEvent(event.t, DELETE, offset=_offset(obj, "offset"), length=_offset(obj, "length"))
    return KeyEvent(event.t, CARET, offset=_offset(obj, "offset"))


def _lines(stream, path: Path) -> Iterator[tuple[int, bytes]]:
    """Numbered lines of at most MAX_LINE_BYTES, read in bounded pieces (never a whole endless line)."""
    lineno = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        lineno += 1
        if len(line) > MAX_LINE_BYTES:
            raise SessionFormatError(f"{path}:{lineno}: line longer than {MAX_LINE_BYTES // 1024} KiB; "
                                     "one event per line, split long text into several text events")
        yield lineno, line


def _open_session(path: Path):
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SessionFormatError(f"{path}: no such file; check the path") from None
    except OSError as exc:
        raise SessionFormatError(f"{path}: cannot read it ({exc.strerror}); check the path") from None
    if stat.S_ISDIR(info.st_mode):
        raise SessionFormatError(f"{path}: is a directory; pass session .jsonl files")
    if not stat.S_ISREG(info.st_mode):
        raise SessionFormatError(f"{path}: not a regular file (a device, pipe or socket); pass a session .jsonl file")
    if info.st_size > MAX_FILE_BYTES:
        raise SessionFormatError(f"{path}: over {MAX_FILE_BYTES // 2**20} MiB; split the recording into "
                                 "smaller sessions")
    try:
        return path.open("rb")
    except PermissionError:
        raise SessionFormatError(f"{path}: permission denied; check the file's permissions") from None
    except OSError as exc:
        raise SessionFormatError(f"{path}: cannot read it ({exc.strerror}); check the path") from None


def iter_events(path: Path | str) -> Iterator[KeyEvent]:
    """Read a session file lazily, validating every line and the time order.

    Raises :class:`SessionFormatError` naming the file and line; the message never
    quotes the line (it may hold typed text)."""
    path = Path(path)
    last_t = 0.0
    with _open_session(path) as stream:
        for lineno, raw in _lines(stream, path):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise SessionFormatError(f"{path}:{lineno}: not UTF-8 text; sessions are UTF-8 JSONL") from None
            if not line.strip():
                continue
            try:
                event = parse_event_v2(json.loads(line, parse_constant=_reject_constant))
            except RecursionError:
                raise SessionFormatError(f"{path}:{lineno}: JSON nested too deeply; {_HINT}") from None
            except json.JSONDecodeError:
                raise SessionFormatError(f"{path}:{lineno}: not valid JSON; {_HINT}") from None
            except ValueError as exc:
                raise SessionFormatError(f"{path}:{lineno}: {exc}; {_HINT}") from None
            if event.t < last_t:
                raise SessionFormatError(
                    f"{path}:{lineno}: time goes backwards ('t' must not decrease); {_HINT}"
                )
            last_t = event.t
            yield event


@dataclass
class ReplayResult:
    segments: list[Segment] = field(default_factory=list)
    #: events dropped by guards, by reason: secure, denied, paused
    dropped: Counter = field(default_factory=Counter)
    #: the time of the session's last event (its length, in seconds from its start)
    end: float = 0.0


def reconstruct(
    events: Iterable[KeyEvent],
    *,
    idle_commit: float = DEFAULT_IDLE_COMMIT,
    guards: Guards | None = None,
    paused: bool = False,
) -> ReplayResult:
    """Run events through the guards and the reconstruction, as live capture does."""
    result = ReplayResult()
    reconstructor = Reconstructor(result.segments.append, idle_commit)
    # A recording names its apps itself (format v1): replay it as recorded.
    guard = GuardFilter(replace(guards or Guards(), block_unknown=False), reconstructor.feed, PauseState(paused))
    last_t = 0.0
    for event in events:
        guard(event)
        last_t = event.t
    reconstructor.finish(last_t)
    result.dropped = guard.dropped
    result.end = last_t
    return result


def replay_session(
    path: Path | str,
    *,
    idle_commit: float = DEFAULT_IDLE_COMMIT,
    guards: Guards | None = None,
    paused: bool = False,
) -> ReplayResult:
    """Segments of one recorded session, with the same guards as live capture."""
    return reconstruct(iter_events(path), idle_commit=idle_commit, guards=guards, paused=paused)

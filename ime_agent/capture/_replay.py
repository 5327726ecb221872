"""Recorded key-event sessions (formats v1 and v2, docs/key-events.md).

Reading validates every line and raises :class:`SessionFormatError` naming the
file and line and how to fix it. Error messages never quote the line: it may
hold typed text.
"""

from __future__ import annotations

import json
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


def parse_event(obj: object) -> KeyEvent:
    """Turn one decoded JSON value into a KeyEvent, or raise ValueError saying why."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    t = obj.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0:
        raise ValueError("'t' must be a non-negative number of seconds")
    kind = obj.get("type")
    if kind in (PRESS, RELEASE):
        key = obj.get("key")
        if not isinstance(key, str) or not key:
            raise ValueError(f"a {kind} event needs a non-empty string 'key'")
        return KeyEvent(float(t), kind, key=key)
    if kind == FOCUS:
        app, title, secure = obj.get("app"), obj.get("title", ""), obj.get("secure", False)
        if not isinstance(app, str) or not isinstance(title, str) or not isinstance(secure, bool):
            raise ValueError("a focus event needs string 'app', string 'title' and boolean 'secure'")
        return KeyEvent(float(t), FOCUS, app=app, title=title, secure=secure)
    if kind == CLICK:
        return KeyEvent(float(t), CLICK)
    if kind == TEXT:
        text = obj.get("text")
        if not isinstance(text, str):
            raise ValueError("a text event needs a string 'text'")
        return KeyEvent(float(t), TEXT, text=text)
    raise ValueError("'type' must be one of press, release, focus, click, text, field, insert, delete, caret")


def _offset(obj: dict, name: str) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"a {obj['type']} event needs a non-negative integer {name!r}")
    return value


def _optional_pid(obj: dict) -> int | None:
    pid = obj.get("pid")
    if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0):
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
        app, title, secure = obj.get("app"), obj.get("title", ""), obj.get("secure")
        role, toolkit, reports = obj.get("role"), obj.get("toolkit"), obj.get("reports_text", False)
        if not isinstance(app, str) or not isinstance(title, str) or not isinstance(secure, bool):
            raise ValueError("a field event needs string 'app', string 'title' and boolean 'secure'")
        if not isinstance(role, str) or not (toolkit is None or isinstance(toolkit, str)):
            raise ValueError("a field event needs a string 'role' (and 'toolkit', if given, a string)")
        if not isinstance(reports, bool):
            raise ValueError("'reports_text' must be true or false")
        return KeyEvent(event.t, FIELD, app=app, title=title, secure=secure, role=role, toolkit=toolkit,
                        reports_text=reports, pid=_optional_pid(obj))
    if kind == INSERT:
        text = obj.get("text")
        if not isinstance(text, str) or not text:
            raise ValueError("an insert event needs a non-empty string 'text'")
        return KeyEvent(event.t, INSERT, offset=_offset(obj, "offset"), text=text)
    if kind == DELETE:
        return KeyEvent(event.t, DELETE, offset=_offset(obj, "offset"), length=_offset(obj, "length"))
    return KeyEvent(event.t, CARET, offset=_offset(obj, "offset"))


def iter_events(path: Path | str) -> Iterator[KeyEvent]:
    """Read a session file lazily, validating every line and the time order."""
    path = Path(path)
    last_t = 0.0
    try:
        with path.open(encoding="utf-8") as lines:
            for lineno, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    event = parse_event_v2(json.loads(line))
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
    except FileNotFoundError:
        raise SessionFormatError(f"{path}: no such file; check the path") from None
    except IsADirectoryError:
        raise SessionFormatError(f"{path}: is a directory; pass session .jsonl files") from None
    except UnicodeDecodeError:
        raise SessionFormatError(f"{path}: not UTF-8 text; sessions are UTF-8 JSONL") from None
    except PermissionError:
        raise SessionFormatError(f"{path}: permission denied; check the file's permissions") from None


@dataclass
class ReplayResult:
    segments: list[Segment] = field(default_factory=list)
    #: events dropped by guards, by reason: secure, denied, paused
    dropped: Counter = field(default_factory=Counter)


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
    guard = GuardFilter(guards or Guards(), reconstructor.feed, PauseState(paused))
    last_t = 0.0
    for event in events:
        guard(event)
        last_t = event.t
    reconstructor.finish(last_t)
    result.dropped = guard.dropped
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

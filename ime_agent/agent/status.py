"""What the agent is doing, in one icon state and one line: a pure function of a snapshot.

The tray shows it; ``ime-agent status`` prints it (the running agent publishes its
snapshot's line to ``agent-status.json`` in the data dir, and without a running
agent the command builds a snapshot from the store). One wording, one place.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ime_agent.ui import icons

STATUS_FILE = "agent-status.json"


@dataclass(frozen=True)
class Snapshot:
    granted: tuple[str, ...] = ()  # consented categories
    paused: bool = False
    paused_until: datetime | None = None  # None while paused: until resume
    running: bool = True  # False: no agent runs for this profile (seen from the CLI)
    icon_shown: bool = True  # the tray icon is docked where the user can see it
    capture_error: str | None = None  # capture could not start, or its source went away
    blocked_window: bool = False  # the focused window is not captured (password, denied, unknown)
    problem: str | None = None  # the store, the classifier or a job failed (until it next succeeds)
    today: int = 0  # summaries kept today (UTC)
    sync: str | None = None  # the last sync, in words (when enrolled in a study)


def describe(s: Snapshot) -> tuple[str, str]:
    """``(icon state, status line)`` for a snapshot."""
    if not s.granted:
        state, line = icons.CONSENT, "nothing is captured until you consent (Consent…)"
    elif s.paused:
        state = icons.PAUSED
        line = f"paused until {s.paused_until.astimezone():%H:%M}" if s.paused_until else "paused until you resume"
    elif not s.running:
        state, line = icons.PAUSED, "the agent is not running: nothing is captured (start it with `ime-agent run`)"
    elif s.capture_error is not None:
        state, line = icons.ERROR, f"capture is off: {s.capture_error}"
    elif not s.icon_shown:
        state, line = icons.ERROR, "capture is off: no system tray to show the icon in"
    else:
        state, line = icons.CAPTURING, f"capturing {', '.join(s.granted)}"
        if s.blocked_window:
            line += " (not in this window: password prompt, excluded or unknown app)"
    if s.problem is not None and state != icons.ERROR:
        state, line = icons.ERROR, f"{line}; problem: {s.problem}"
    line += f"; {s.today} {'summary' if s.today == 1 else 'summaries'} today"
    if s.sync:
        line += f"; {s.sync}"
    return state, line


# --- published by the running agent --------------------------------------------------------


def publish(data_dir: Path, state: str, line: str, sources: tuple[str, ...]) -> None:
    """Write what the agent shows to ``agent-status.json`` (no content: state and wording only)."""
    record = {"state": state, "status": line, "sources": list(sources)}
    fd, tmp = tempfile.mkstemp(prefix=".agent-status-", dir=data_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(tmp, data_dir / STATUS_FILE)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def published(data_dir: Path) -> dict | None:
    """What a running agent last published, or None."""
    try:
        record = json.loads((data_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("status"), str):
        return None
    return record


def withdraw_published(data_dir: Path) -> None:
    with contextlib.suppress(OSError):
        (data_dir / STATUS_FILE).unlink()

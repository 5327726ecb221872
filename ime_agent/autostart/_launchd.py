"""macOS: a LaunchAgent plist in ``~/Library/LaunchAgents``, run at login.

Enabling only writes the plist (launchd reads it at the next login; loading it now
would start a second agent). Disabling also unloads it, in case it is loaded.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
from pathlib import Path

from ime_agent.autostart import Status

LABEL = "org.ime-agent.agent"


def path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def plist_content(command: list[str]) -> bytes:
    """The LaunchAgent plist for ``command``: start once at login, don't restart after Quit."""
    return plistlib.dumps({
        "Label": LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "KeepAlive": False,
        "ProcessType": "Interactive",  # a UI app: don't throttle it like a daemon
        "LimitLoadToSessionType": "Aqua",  # only in a graphical login session
    })


def enable(command: list[str]) -> Status:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(plist_content(command))
    return status()


def disable() -> Status:
    subprocess.run(["launchctl", "bootout", f"gui/{os.getuid()}/{LABEL}"],
                   capture_output=True, check=False)  # fails harmlessly when not loaded
    path().unlink(missing_ok=True)
    return status()


def status() -> Status:
    target = path()
    try:
        data = plistlib.loads(target.read_bytes())
    except FileNotFoundError:
        return Status(False, str(target), None)
    return Status(not data.get("Disabled", False), str(target), data.get("ProgramArguments"))

"""Start the agent at login: ``enable()``, ``disable()``, ``status()``.

One module per OS, chosen explicitly so packagers see every import:
``_xdg`` (Linux/BSD: an XDG autostart ``.desktop`` file), ``_launchd`` (macOS: a
LaunchAgent plist), ``_winreg`` (Windows: the per-user ``Run`` key).
``IME_AGENT_AUTOSTART_BACKEND`` (``xdg``, ``launchd``, ``winreg``) overrides the choice.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ime_agent import env
from ime_agent.errors import ImeAgentError


@dataclass(frozen=True)
class Status:
    enabled: bool
    location: str  # the file or registry value that starts the agent
    command: list[str] | None  # what it starts, when enabled


def xdg():
    from ime_agent.autostart import _xdg as backend
    return backend


def launchd():
    from ime_agent.autostart import _launchd as backend
    return backend


def winreg():
    from ime_agent.autostart import _winreg as backend
    return backend


_BACKENDS = {"xdg": xdg, "launchd": launchd, "winreg": winreg}


def backend():
    name = env.get("IME_AGENT_AUTOSTART_BACKEND") or {
        "darwin": "launchd", "win32": "winreg"}.get(sys.platform, "xdg")
    try:
        return _BACKENDS[name]()
    except KeyError:
        raise ImeAgentError(f"unknown autostart backend {name!r} in IME_AGENT_AUTOSTART_BACKEND; "
                            f"use one of {', '.join(_BACKENDS)}") from None


def launch_command(data_dir: Path | None = None) -> list[str]:
    """How to start this installation's agent: the frozen bundle, else this Python with ``-m``."""
    executable = Path(sys.executable)
    if sys.platform == "win32":
        # Start the windowless launcher at login, not a console (ime-agent-cli.exe, python.exe).
        name = "ime-agent.exe" if getattr(sys, "frozen", False) else "pythonw.exe"
        if executable.with_name(name).exists():
            executable = executable.with_name(name)
    if getattr(sys, "frozen", False):
        command = [str(executable)]
    else:
        command = [str(executable), "-m", "ime_agent"]
    if data_dir is not None:
        command += ["--data-dir", str(Path(data_dir).resolve())]
    return command + ["run"]


def enable(data_dir: Path | None = None) -> Status:
    """Start the agent (for this profile, if ``data_dir`` is given) at every login."""
    return backend().enable(launch_command(data_dir))


def disable() -> Status:
    """Remove every trace of the login entry; a no-op if there is none."""
    return backend().disable()


def status() -> Status:
    return backend().status()

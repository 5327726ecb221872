"""XDG autostart (Linux and BSD desktops): ``$XDG_CONFIG_HOME/autostart/ime-agent.desktop``."""

from __future__ import annotations

import os
from pathlib import Path

from ime_agent import env
from ime_agent.autostart import Status

FILE_NAME = "ime-agent.desktop"


def path() -> Path:
    config_home = env.get("XDG_CONFIG_HOME") or ""
    # The spec says a relative or empty XDG_CONFIG_HOME is invalid and must be ignored.
    base = Path(config_home) if os.path.isabs(config_home) else Path.home() / ".config"
    return base / "autostart" / FILE_NAME


def desktop_entry(command: list[str]) -> str:
    """The ``.desktop`` file's text for ``command``."""
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=ime-agent",
        "Comment=Consented research agent: summarises your typing on this device",
        f"Exec={exec_line(command)}",
        "Icon=ime-agent",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def exec_line(command: list[str]) -> str:
    """Quote an argv for ``Exec=`` as the Desktop Entry spec asks: arguments with
    reserved characters go in double quotes with ``" ` $ \\`` backslash-escaped, and
    then the whole value is escaped once more as a desktop-file string (``\\`` → ``\\\\``)."""
    reserved = set(" \t\n\"'\\><~|&;$*?#()`=%")
    parts = []
    for arg in command:
        if arg and not (set(arg) & reserved):
            parts.append(arg)
            continue
        quoted = "".join("\\" + c if c in '"`$\\' else c for c in arg).replace("%", "%%")
        parts.append(f'"{quoted}"')
    return " ".join(parts).replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def parse_exec(line: str) -> list[str]:
    """Split an ``Exec=`` value back into an argv (the inverse of :func:`exec_line`)."""
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    text, i = [], 0
    while i < len(line):  # first undo the desktop-file string escapes
        if line[i] == "\\" and i + 1 < len(line) and line[i + 1] in escapes:
            text.append(escapes[line[i + 1]])
            i += 2
        else:
            text.append(line[i])
            i += 1
    args, current, quoted, started, chars = [], [], False, False, iter("".join(text))
    for c in chars:
        if quoted and c == "\\":
            current.append(next(chars, ""))
        elif c == '"':
            quoted, started = not quoted, True
        elif c == "%":
            current.append(next(chars, ""))  # "%%" is a literal percent sign
        elif c == " " and not quoted:
            if current or started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(c)
    if current or started:
        args.append("".join(current))
    return args


def enable(command: list[str]) -> Status:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(desktop_entry(command), encoding="utf-8")
    tmp.replace(target)
    return status()


def disable() -> Status:
    path().unlink(missing_ok=True)
    path().with_suffix(".tmp").unlink(missing_ok=True)
    return status()


def status() -> Status:
    target = path()
    try:
        lines = target.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return Status(False, str(target), None)
    values = dict(line.split("=", 1) for line in lines if "=" in line)
    enabled = values.get("Hidden", "false") != "true" and values.get("X-GNOME-Autostart-enabled", "true") != "false"
    command = parse_exec(values["Exec"]) if "Exec" in values else None
    return Status(enabled, str(target), command)

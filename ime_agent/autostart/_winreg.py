"""Windows: a value in the per-user ``Run`` key (HKCU), read by Explorer at login.

``winreg`` is imported where it is used, so :func:`run_value` can be tested anywhere.
"""

from __future__ import annotations

import subprocess

from ime_agent.autostart import Status

KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = "ime-agent"
LOCATION = rf"HKEY_CURRENT_USER\{KEY}\{VALUE_NAME}"


def run_value(command: list[str]) -> str:
    """The ``Run`` value's command line for ``command`` (Windows quoting rules)."""
    return subprocess.list2cmdline(command)


def enable(command: list[str]) -> Status:
    import winreg

    with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, KEY, 0, winreg.KEY_SET_VALUE) as key:
        winreg.SetValueEx(key, VALUE_NAME, 0, winreg.REG_SZ, run_value(command))
    return status()


def disable() -> Status:
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, KEY, 0, winreg.KEY_SET_VALUE) as key:
            winreg.DeleteValue(key, VALUE_NAME)
    except FileNotFoundError:
        pass
    return status()


def status() -> Status:
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, KEY) as key:
            value, _type = winreg.QueryValueEx(key, VALUE_NAME)
    except FileNotFoundError:
        return Status(False, LOCATION, None)
    return Status(True, LOCATION, [value])

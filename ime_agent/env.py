"""Every environment variable ime-agent reads is read here, and only here.

Values are read when asked for (tests and wrappers change the environment at
run time) and checked: a value that is not valid UTF-8 is a one-line
:class:`~ime_agent.errors.ConfigError`, never a traceback deep inside.
"""

from __future__ import annotations

import os

from ime_agent.errors import ConfigError

#: Each variable and what it means (README.md documents them all; a test checks).
VARIABLES = {
    "IME_AGENT_CONFIG": "path of the config file",
    "IME_AGENT_DATA_DIR": "the profile's data directory (same as --data-dir)",
    "IME_AGENT_IDLE_COMMIT": "idle commit in seconds",
    "IME_AGENT_CAPTURE_BACKEND": "force a capture backend: xorg, atspi, win32 or darwin (comma-separated for several)",
    "IME_AGENT_PROFILE": "`testing` keeps trial data in `<data dir>-testing`",
    "IME_AGENT_KEY_SOURCE": "for a new profile: keyring, file or passphrase",
    "IME_AGENT_PASSPHRASE": "the passphrase, where that is the key source",
    "IME_AGENT_AUTOSTART_BACKEND": "force the autostart backend: xdg, launchd or winreg",
}
# Set by the desktop, read but not ours to document as settings.
_DESKTOP = ("DISPLAY", "WAYLAND_DISPLAY", "XDG_CONFIG_HOME", "XDG_SESSION_TYPE")


def get(name: str) -> str | None:
    """The variable's value, ``None`` when unset or empty; ConfigError when it is not UTF-8."""
    if name not in VARIABLES and name not in _DESKTOP:
        raise KeyError(f"{name} is not a variable ime-agent reads; add it to ime_agent.env.VARIABLES")
    value = os.environ.get(name)
    if not value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        raise ConfigError(f"{name} is not valid UTF-8 text; set it again") from None
    return value

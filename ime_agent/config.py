"""Configuration: defaults in code, a user TOML file, environment overrides on top.

The file lives in the platform's user config dir (``config.toml``) unless
``IME_AGENT_CONFIG`` names another one. Environment overrides:

- ``IME_AGENT_DATA_DIR``: the profile's data directory.
- ``IME_AGENT_IDLE_COMMIT``: seconds of idle typing after which a segment commits.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import platformdirs

from ime_agent.errors import ConfigError

APP_NAME = "ime-agent"

# Apps whose typing is never captured. Password managers hold secrets; terminal
# emulators are where sudo, ssh and gpg prompts take passwords without any
# secure-field flag. Matched case-insensitively against the app id (WM_CLASS on X11).
DEFAULT_DENIED_APPS = (
    # password managers and secret prompts
    "keepassxc", "keepass", "keepass2", "1password", "bitwarden", "lastpass",
    "enpass", "dashlane", "seahorse", "gcr-prompter", "pinentry", "pinentry-gtk-2",
    "pinentry-qt", "ssh-askpass", "ksshaskpass", "polkit-gnome-authentication-agent-1",
    "org.kde.polkit-kde-authentication-agent-1",
    # terminal emulators
    "gnome-terminal", "gnome-terminal-server", "org.gnome.terminal", "org.gnome.console",
    "kgx", "konsole", "org.kde.konsole", "xterm", "uxterm", "urxvt", "rxvt",
    "alacritty", "kitty", "foot", "wezterm", "org.wezfurlong.wezterm", "tilix",
    "com.gexperts.tilix", "terminator", "xfce4-terminal", "lxterminal",
    "mate-terminal", "qterminal", "st", "st-256color", "sakura", "guake",
    "tilda", "yakuake", "terminology", "cool-retro-term", "ghostty",
    "com.mitchellh.ghostty", "terminal", "iterm2", "com.apple.terminal",
    "com.googlecode.iterm2", "windowsterminal", "cmd", "powershell", "conhost",
    "putty", "mintty",
)

# Window titles that mark a password prompt on systems with no secure-field flag
# (X11). Matched case-insensitively as substrings.
DEFAULT_SECURE_TITLE_PATTERNS = (
    "password", "passphrase", "passwort", "mot de passe", "contraseña", "pin code",
    "sign in", "sign-in", "signin", "log in", "log-in", "login", "unlock",
    "authenticate", "authentication", "sudo", "pinentry", "askpass", "2fa",
    "one-time code", "verification code", "密码", "登录", "登陆", "解锁", "验证码",
)


@dataclass(frozen=True)
class Config:
    data_dir: Path
    idle_commit: float = 10.0
    denied_apps: tuple[str, ...] = DEFAULT_DENIED_APPS
    secure_title_patterns: tuple[str, ...] = DEFAULT_SECURE_TITLE_PATTERNS
    retention_days: int = 30
    extra: dict = field(default_factory=dict)


def default_config_path() -> Path:
    env = os.environ.get("IME_AGENT_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def load_config(path: Path | None = None, data_dir: Path | None = None) -> Config:
    """Defaults, then the TOML file (if it exists), then the environment, then ``data_dir``."""
    cfg = Config(data_dir=default_data_dir())
    path = path or default_config_path()
    if path.exists():
        cfg = _apply_file(cfg, path)
    cfg = _apply_env(cfg)
    if data_dir is not None:
        cfg = replace(cfg, data_dir=Path(data_dir))
    return cfg


_KNOWN = {f.name for f in fields(Config)} - {"extra"}


def _apply_file(cfg: Config, path: Path) -> Config:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}; fix or remove the file") from None
    changes: dict = {}
    extra: dict = {}
    for key, value in raw.items():
        if key not in _KNOWN:
            extra[key] = value
            continue
        try:
            changes[key] = _coerce(key, value)
        except (TypeError, ValueError):
            raise ConfigError(f"config {path}: bad value for '{key}'; see README for its type") from None
    # Users extend the safe defaults rather than replace them by accident.
    for key in ("extra_denied_apps", "extra_secure_title_patterns"):
        if key in extra:
            base = key.removeprefix("extra_")
            current = changes.get(base, getattr(cfg, base))
            changes[base] = tuple(current) + tuple(str(v) for v in extra.pop(key))
    return replace(cfg, **changes, extra=extra)


def _coerce(key: str, value):
    if key == "data_dir":
        return Path(os.path.expanduser(str(value)))
    if key == "idle_commit":
        number = float(value)
        if number <= 0:
            raise ValueError
        return number
    if key == "retention_days":  # the consent text promises deletion after 30 days
        days = int(value)
        if not 1 <= days <= 30:
            raise ValueError
        return days
    if key in ("denied_apps", "secure_title_patterns"):
        if not isinstance(value, list):
            raise TypeError
        return tuple(str(v) for v in value)
    return value


def _apply_env(cfg: Config) -> Config:
    if os.environ.get("IME_AGENT_DATA_DIR"):
        cfg = replace(cfg, data_dir=Path(os.environ["IME_AGENT_DATA_DIR"]))
    if os.environ.get("IME_AGENT_IDLE_COMMIT"):
        try:
            cfg = replace(cfg, idle_commit=_coerce("idle_commit", os.environ["IME_AGENT_IDLE_COMMIT"]))
        except ValueError:
            raise ConfigError("IME_AGENT_IDLE_COMMIT must be a positive number of seconds") from None
    return cfg

"""Configuration: defaults in code (:mod:`ime_agent.defaults`), a user TOML file, the environment on top.

The file lives in the platform's user config dir (``config.toml``) unless
``IME_AGENT_CONFIG`` names another one. It is checked strictly, because a
setting that is silently ignored or bent would weaken the guards without anyone
noticing: an unknown key is an error naming the closest valid one, lists must be
lists of text, numbers must be finite and in range (the message states it).
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

from ime_agent import defaults, env
from ime_agent.errors import ConfigError

APP_NAME = "ime-agent"


@dataclass(frozen=True)
class Config:
    data_dir: Path
    idle_commit: float = defaults.IDLE_COMMIT_SECONDS
    denied_apps: tuple[str, ...] = defaults.DENIED_APPS
    secure_title_patterns: tuple[str, ...] = defaults.SECURE_TITLE_PATTERNS
    retention_days: int = defaults.RETENTION_DAYS


#: Every key the file may hold, and what it takes (README.md shows an example of each).
KEYS = {
    "data_dir": "text: a directory",
    "idle_commit": "seconds, a number from {} to {}".format(*defaults.IDLE_COMMIT_RANGE),
    "retention_days": "a whole number of days from {} to {}".format(*defaults.RETENTION_RANGE),
    "denied_apps": "a list of app ids (replaces the safe defaults: careful)",
    "extra_denied_apps": "a list of app ids added to the safe defaults",
    "secure_title_patterns": "a list of title fragments (replaces the safe defaults: careful)",
    "extra_secure_title_patterns": "a list of title fragments added to the safe defaults",
}


def default_config_path() -> Path:
    path = env.get("IME_AGENT_CONFIG")
    return Path(path) if path else Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def load_config(path: Path | None = None, data_dir: Path | None = None) -> Config:
    """Defaults, then the TOML file (if it exists), then the environment, then ``data_dir``."""
    cfg = Config(data_dir=default_data_dir())
    path = path or default_config_path()
    if str(path) != os.devnull and (path.exists() or path.is_symlink()):  # /dev/null: no settings
        cfg = _apply_file(cfg, path)
    cfg = _apply_env(cfg)
    if data_dir is not None:
        cfg = replace(cfg, data_dir=Path(data_dir))
    return cfg


def _apply_file(cfg: Config, path: Path) -> Config:
    try:
        if not path.is_file():
            raise ConfigError(f"config {path} is not a regular file; point IME_AGENT_CONFIG at a TOML file")
        if path.stat().st_size > 1024 * 1024:
            raise ConfigError(f"config {path} is over 1 MiB; it is not an ime-agent config file")
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ConfigError(f"cannot read config {path} ({reason}); fix or remove the file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML ({exc}); fix or remove the file") from None
    changes: dict = {}
    for key, value in raw.items():
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(KEYS)}"
            raise ConfigError(f"config {path}: unknown key '{key}'; {hint}")
        try:
            changes[key] = _check(key, value)
        except ValueError:
            raise ConfigError(f"config {path}: '{key}' must be {KEYS[key]}") from None
    # Users extend the safe defaults rather than replace them by accident.
    for key in ("extra_denied_apps", "extra_secure_title_patterns"):
        if key in changes:
            base = key.removeprefix("extra_")
            changes[base] = tuple(changes.get(base, getattr(cfg, base))) + changes.pop(key)
    return replace(cfg, **changes)


def _check(key: str, value):
    """The value as the config holds it; ValueError when it is not what ``KEYS[key]`` says."""
    if key == "data_dir":
        if not isinstance(value, str) or not value.strip():
            raise ValueError
        return Path(os.path.expanduser(value))
    if key == "idle_commit":
        return _number(value, *defaults.IDLE_COMMIT_RANGE)
    if key == "retention_days":
        if type(value) is not int:
            raise ValueError
        return int(_number(value, *defaults.RETENTION_RANGE))
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError
    return tuple(v.strip() for v in value)


def _number(value, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError
    return number


def parse_idle_commit(text: str, source: str) -> float:
    """An idle commit given as text (environment, command line); ConfigError naming ``source``."""
    try:
        return _number(float(text.strip()), *defaults.IDLE_COMMIT_RANGE)
    except (ValueError, OverflowError):
        raise ConfigError(f"{source} must be {KEYS['idle_commit']}") from None


def _apply_env(cfg: Config) -> Config:
    data_dir = env.get("IME_AGENT_DATA_DIR")
    if data_dir:
        cfg = replace(cfg, data_dir=Path(data_dir))
    idle = env.get("IME_AGENT_IDLE_COMMIT")
    if idle:
        cfg = replace(cfg, idle_commit=parse_idle_commit(idle, "IME_AGENT_IDLE_COMMIT"))
    return cfg

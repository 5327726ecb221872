from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Recorded sessions in the key-event format with their expected segments: in the repository,
# so the tests need nothing from outside it.
SESSIONS_DIR = Path(__file__).resolve().parent / "data" / "sessions"


def shared_sessions() -> list[Path]:
    return sorted(p for p in SESSIONS_DIR.glob("session-*.jsonl") if not p.name.endswith(".expected.jsonl"))


@pytest.fixture
def sessions_dir() -> Path:
    return SESSIONS_DIR


@pytest.fixture(autouse=True)
def _isolated_profile(tmp_path_factory, monkeypatch):
    """Never touch the real user's config or data: every test gets its own profile."""
    home = tmp_path_factory.mktemp("profile")
    monkeypatch.setenv("IME_AGENT_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("IME_AGENT_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg-data"))

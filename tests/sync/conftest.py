"""Participants' agents against real collector processes (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from collectors import collector_factory, start_collector  # noqa: F401  (fixtures shared with other areas)
from postgres import postgres_cluster, postgres_database, postgres_url  # noqa: F401

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def served(request, tmp_path):
    """A real collector process on a fresh database: ``(database URL, CollectorProcess)``."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/collector.db"
    else:
        url = request.getfixturevalue("postgres_url")
    process = start_collector(url, tmp_path / "collector.log")
    yield url, process
    process.stop()


@pytest.fixture(autouse=True)
def _file_key(monkeypatch):
    monkeypatch.setenv("IME_AGENT_KEY_SOURCE", "file")
    monkeypatch.delenv("IME_AGENT_PASSPHRASE", raising=False)


@pytest.fixture
def agent(tmp_path):
    """``agent(*args, profile="p1")``: the ime-agent command on a profile of this test; checks success
    unless ``ok=False``; returns the click result."""
    from ime_agent.cli import main

    def run(*args: str, profile: str = "p1", ok: bool = True, input: str | None = None):
        result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / profile), *args], input=input)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run

from __future__ import annotations

import pytest

from collectors import collector_factory  # noqa: F401
from ime_research.settings import PASSPHRASE_ENV

PASSPHRASE = "correct-study-passphrase"


@pytest.fixture(autouse=True)
def passphrase(monkeypatch) -> str:
    """Every test's study is sealed with this passphrase, given through the environment."""
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    return PASSPHRASE
from postgres import postgres_cluster, postgres_database, postgres_url  # noqa: F401,E402

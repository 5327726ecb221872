from __future__ import annotations

import sys

import pytest

import research_standins


@pytest.fixture(autouse=True)
def _standins(monkeypatch):
    """The study directory and collector client of these tests are the stand-ins (see research_standins)."""
    for name, module in research_standins.modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    research_standins.FEEDS.clear()

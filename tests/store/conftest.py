"""Fixtures for the store, consent, pipeline and data-command tests.

Every test has its own profile (the root conftest sets IME_AGENT_DATA_DIR to a
tmp dir) and a key file there: the real OS keyring is never touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ime_agent.store import Store


@pytest.fixture(autouse=True)
def _key_file(monkeypatch):
    monkeypatch.setenv("IME_AGENT_KEY_SOURCE", "file")
    monkeypatch.delenv("IME_AGENT_PASSPHRASE", raising=False)
    monkeypatch.delenv("IME_AGENT_PROFILE", raising=False)


class Clock:
    """A settable clock (UTC)."""

    def __init__(self, now: datetime = datetime(2026, 11, 20, 10, 7, tzinfo=UTC)):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir, clock):
    with Store.open(data_dir, clock=clock) as s:
        yield s


@dataclass(frozen=True)
class FakeResult:
    label: str
    confidence: float
    lang: str = "en"
    slots: dict = field(default_factory=dict)
    model_id: str = "fake-1"
    scores: dict = field(default_factory=dict)


class FakeClassifier:
    """Routes by keyword: buy → purchase, trip → travel, doctor → health, else none."""

    RULES = (("buy", "purchase", {"product": "laptop"}), ("trip", "travel", {"destination": "Vietnam"}),
             ("doctor", "health", {"concern": "sleep"}))

    def __init__(self):
        self.calls = 0

    def classify_many(self, texts):
        self.calls += 1
        results = []
        for text in texts:
            for word, label, slots in self.RULES:
                if word in text.lower():
                    results.append(FakeResult(label, 0.9, slots=dict(slots)))
                    break
            else:
                results.append(FakeResult("none", 0.8))
        return results

    def classify(self, text):
        return self.classify_many([text])[0]


@pytest.fixture
def fake_classifier() -> FakeClassifier:
    return FakeClassifier()


def session_events(typing) -> list[dict]:
    """Events for ``[(app, title, secure, text), ...]``: a focus, each character pressed, then Enter.

    Only press/release events: the text never appears as one string in the file.
    """
    events, t = [], 0.0
    for app, title, secure, text in typing:
        t += 0.5
        events.append({"t": round(t, 3), "type": "focus", "app": app, "title": title, "secure": secure})
        for char in [*text, "Key.enter"]:
            key = "Key.space" if char == " " else char
            t += 0.05
            events.append({"t": round(t, 3), "type": "press", "key": key})
            events.append({"t": round(t + 0.02, 3), "type": "release", "key": key})
    return events


def write_session(path: Path, typing) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in session_events(typing)), encoding="utf-8")
    return path


@pytest.fixture
def make_session(tmp_path):
    counter = iter(range(10_000))

    def make(typing) -> Path:
        return write_session(tmp_path / f"typed-{next(counter)}.jsonl", typing)

    return make

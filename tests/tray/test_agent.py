"""The agent's logic without a screen: consent gate, pause from another connection, quit.

The event source is scripted (the real X11 source is exercised in test_agent_x11.py);
classifier, pipeline and store are the real ones.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest

from ime_agent import consent
from ime_agent.ui import icons
from ime_agent.agent import Agent, Windows
from ime_agent.capture._base import FOCUS, KeyEvent
from ime_agent.capture._scripted import ScriptedSource, typing
from ime_agent.config import load_config
from ime_agent.store import Store
from xserver import wait_until


class Scripted(ScriptedSource):
    """The shipped scripted source, on live capture's clock, with a helper that types a line."""

    def type_line(self, text: str, app: str = "firefox") -> None:
        self.play(typing(text, app=app, title="Notes", gap=0.01))

    @property
    def stopped(self) -> bool:
        return not self.alive()


class ScriptedWindows:
    def __init__(self, answer=None):
        self.asked = threading.Event()
        self.answer_ready = threading.Event()
        self.answer = answer
        self.reviewed: list = []

    def windows(self) -> Windows:
        def ask(_current):
            self.asked.set()
            self.answer_ready.wait(10)
            return self.answer

        return Windows(ask_consent=ask, review=lambda rows, _delete: self.reviewed.append(rows),
                       confirm_delete=lambda: True)


@pytest.fixture
def profile(tmp_path):
    config = load_config(data_dir=tmp_path / "profile")
    store = Store.open(config.data_dir, key_source="file")
    yield config, store
    store.close()


@contextmanager
def running(profile, categories=(), windows=None, source_factory=None, **options):
    """The agent on ``profile`` with consent for ``categories``; yields it and its scripted sources."""
    config, store = profile
    if categories:
        consent.grant(store, categories)
    sources: list[Scripted] = []

    def scripted_source():
        sources.append(Scripted())
        return sources[-1]

    agent = Agent(config, store, source_factory=source_factory or scripted_source, windows=windows, **options)
    agent.start()
    try:
        yield agent, sources
    finally:
        agent.stop()


def test_nothing_runs_before_consent_and_capture_starts_once_given(profile):
    store = profile[1]
    scripted = ScriptedWindows(answer={"purchase": True, "travel": True, "health": False})
    with running(profile, windows=scripted.windows()) as (agent, sources):
        assert agent.state() == icons.CONSENT and "consent" in agent.status_line()
        agent.open_consent()
        assert scripted.asked.wait(5)
        agent.wait_synced()
        assert sources == [] and not agent.capturing  # no backend before the answer
        scripted.answer_ready.set()
        wait_until(lambda: agent.state() == icons.CAPTURING, what="capture to start after consent")
        assert consent.current(store) == {"purchase": True, "travel": True, "health": False}
        sources[0].type_line("looking for a cheap flight to lisbon for the weekend")
        wait_until(lambda: store.summaries(category="travel"), what="the travel summary")
        wait_until(lambda: "1 summary today" in agent.status_line(), what="the status line to count it")


def test_not_now_keeps_waiting_for_consent(profile):
    scripted = ScriptedWindows(answer=None)
    scripted.answer_ready.set()
    with running(profile, windows=scripted.windows()) as (agent, sources):
        agent.open_consent()
        assert scripted.asked.wait(5)
        agent.wait_synced()
        assert agent.state() == icons.CONSENT and sources == []


def test_pause_and_withdrawal_from_another_connection_are_obeyed(profile):
    config, store = profile
    with running(profile, ["travel"]) as (agent, sources):
        assert agent.state() == icons.CAPTURING
        with Store.open(config.data_dir) as cli:  # as `ime-agent pause` would, from its own connection
            cli.pause(None)
        wait_until(lambda: agent.state() == icons.PAUSED, what="the agent to see the pause")
        assert agent.status_line().startswith("paused until you resume")
        sources[0].type_line("booking a hotel in kyoto for two nights")
        with Store.open(config.data_dir) as cli:
            cli.resume()
        wait_until(lambda: agent.capturing, what="the agent to see the resume")
        sources[0].type_line("train tickets from paris to rome for the family in july")
        wait_until(lambda: agent.committed == 1, what="the resumed line to be stored")
        assert len(store.summaries(category="travel")) == 1

        with Store.open(config.data_dir) as cli:
            consent.withdraw(cli, ["travel"])
        wait_until(lambda: agent.state() == icons.CONSENT, what="the agent to see the withdrawal")
        assert sources[0].stopped and store.summaries() == []


def test_tray_actions_change_state_and_store(profile):
    store = profile[1]
    scripted = ScriptedWindows()
    with running(profile, ["purchase"], windows=scripted.windows()) as (agent, sources):
        agent.pause(15 * 60)
        agent.wait_synced()
        assert agent.state() == icons.PAUSED and store.paused_state().until is not None
        assert agent.status_line().startswith("paused until ")
        agent.resume()
        wait_until(lambda: agent.state() == icons.CAPTURING, what="resume")
        sources[0].type_line("which robot vacuum should i buy under 300")
        wait_until(lambda: agent.committed == 1, what="the purchase summary")
        agent.review()
        wait_until(lambda: scripted.reviewed, what="the review window")
        assert [s.intent for s in scripted.reviewed[0]] == ["purchase"]
        agent.delete_data()
        wait_until(lambda: store.summaries() == [], what="delete my data")


def test_a_blocked_window_shows_in_the_status_line(profile):
    with running(profile, ["purchase"]) as (agent, sources):
        sources[0].play([KeyEvent(0.0, FOCUS, app="keepassxc", title="Vault")])
        wait_until(lambda: "not in this window" in agent.status_line(), what="the blocked-window note")
        sources[0].type_line("new phone case", app="firefox")
        wait_until(lambda: "not in this window" not in agent.status_line(), what="the note to go")


def test_stop_stores_what_was_still_buffered(profile):
    """No Enter and a long idle limit: only the flush at stop can store this line."""
    with running(profile, ["purchase"]) as (agent, sources):
        sources[0].play(typing("best noise cancelling headphones under 200", app="firefox", enter=False))
        agent.wait_synced()
        assert agent.committed == 0  # still buffered: nothing was committed by idle or Enter
        agent.stop()
        assert sources[0].stopped
        assert [s.intent for s in profile[1].summaries()] == ["purchase"]


def test_capture_unavailable_shows_the_error(profile):
    from ime_agent.errors import BackendUnavailable

    def broken():
        raise BackendUnavailable("the X server has no RECORD extension; start it with +extension RECORD")

    with running(profile, ["purchase"], source_factory=broken) as (agent, _sources):
        assert agent.state() == icons.ERROR
        assert "RECORD" in agent.status_line()


def test_no_capture_while_the_icon_is_not_shown(profile):
    shown = threading.Event()
    with running(profile, ["travel"], icon_shown=shown.is_set) as (agent, sources):
        assert agent.state() == icons.ERROR and "no system tray" in agent.status_line()
        assert sources == []
        shown.set()  # the tray host appeared
        wait_until(lambda: agent.capturing, what="capture once the icon shows")
        shown.clear()  # and went away again
        wait_until(lambda: not agent.capturing and sources[0].stopped, what="capture to stop with the icon")


class FailingOnce:
    """The real classifier, except that the first batch yields a result nothing can store."""

    def __init__(self):
        import classifiers

        self.real = classifiers.load()
        self.calls = 0

    def classify_many(self, texts):
        self.calls += 1
        results = self.real.classify_many(texts)
        if self.calls == 1:
            from dataclasses import replace

            return [replace(r, confidence="not a number") for r in results]
        return results


def test_the_worker_survives_an_unexpected_error_and_says_so(profile):
    with running(profile, ["purchase"], classifier=FailingOnce()) as (agent, sources):
        sources[0].type_line("looking at a new dishwasher this weekend")
        wait_until(lambda: "problem: internal error" in agent.status_line(), what="the problem shown")
        assert agent.state() == icons.ERROR and agent.capturing
        sources[0].type_line("which air fryer should i buy")
        wait_until(lambda: agent.committed == 1, what="the next segment stored")
        wait_until(lambda: agent.state() == icons.CAPTURING, what="the problem cleared")


def test_a_segment_committed_at_stop_gets_the_time_it_was_typed(profile):
    from datetime import UTC, datetime, timedelta

    with running(profile, ["purchase"]) as (agent, sources):
        sources[0].play(typing("best noise cancelling headphones under 200", app="firefox", enter=False))
        agent.stop()
    (summary,) = profile[1].summaries()
    bucket = datetime.fromisoformat(summary.bucket.replace("Z", "+00:00"))
    assert timedelta(0) <= datetime.now(UTC) - bucket < timedelta(minutes=16)


def test_a_source_that_stops_observing_drops_everything_and_capture_comes_back(profile, monkeypatch):
    from ime_agent.agent import core

    monkeypatch.setattr(core, "CAPTURE_RETRY_SECONDS", 0.2)
    with running(profile, ["purchase"]) as (agent, sources):
        sources[0].play(typing("which air fryer should i buy", app="firefox", enter=False))
        sources[0].kill()  # its display or bus went away, mid-typing
        wait_until(lambda: agent.state() == icons.ERROR and "stopped observing" in agent.status_line(),
                   what="the tray to show the lost source")
        wait_until(lambda: len(sources) == 2 and agent.state() == icons.CAPTURING, what="capture to come back")
        sources[1].type_line("which robot vacuum should i buy under 300")
        wait_until(lambda: agent.committed == 1, what="the new source's line stored")
    # The line typed before the source died was judged while it could see: it is finished then, as at
    # a focus change; nothing after the death is kept (the scripted source emits nothing more).
    assert len(profile[1].summaries()) == 2

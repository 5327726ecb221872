"""Sync through faults: a proxy in front of a real collector answers 500, 429, hangs, resets, or
drops the answer after the collector committed; the collector goes down for a simulated week.
Whatever happens, every summary arrives exactly once and nothing is lost."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from faults import FaultProxy
from ime_agent import consent
from ime_agent.store import Store
from ime_agent.sync import enroll
from ime_agent.sync.client import CollectorClient
from ime_agent.sync.job import sync_once
from ime_wire.envelope import Upload
from ime_wire.summary import Summary
from ime_wire.timebucket import bucket_of
from studykit import feed, make_study, register, register_study


class Clock:
    def __init__(self):
        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def setup(served, tmp_path):
    """A study whose manifest points at a fault proxy in front of the real collector, and a joined
    profile holding ``n`` summaries (``setup(n)``)."""
    url, process = served
    proxy = FaultProxy(process.url)
    clock = Clock()

    def make(n: int):
        study = make_study(proxy.url)
        register_study(url, study)
        with httpx.Client(base_url=process.url, timeout=10) as http:
            code = register(http, study, 1)[0]
        store = Store.open(tmp_path / "profile", clock=clock)
        consent.grant(store, consent.CATEGORIES)
        enroll.join(store, study.manifest_bytes, study.manifest, code, consent.CATEGORIES)
        for i in range(n):
            intent, slots = [("purchase", {"product": "laptop"}), ("travel", {"destination": "Japan"}),
                             ("health", {"concern": "sleep"})][i % 3]
            summary = Summary(f"{i:032x}", bucket_of(clock.now - timedelta(minutes=15 * (i % 4))), "chat", "en",
                              intent, 0.9, slots, "intent-en-test")
            assert store.add_summary(summary) == "stored"
        return study, store

    yield make, proxy, clock, process
    proxy.close()


@pytest.fixture
def restart(served, tmp_path):
    """Start the collector again on the same database and port (after ``process.stop()``)."""
    from collectors import start_collector

    started = []

    def again(process):
        started.append(start_collector(served[0], tmp_path / "collector-again.log", port=process.port))
        return started[-1]

    yield again
    for process in started:
        process.stop()


def on_collector(process, study) -> list[str]:
    """Every summary id the collector holds for the study (opened with the study key), with repeats."""
    with httpx.Client(base_url=process.url, timeout=10) as http:
        items, _ = feed(http, study)
    return [s.id for i in items if i["kind"] == "batch" for s in study.open(Upload.from_dict(i["upload"]))]


def quick(url):
    return CollectorClient(url, timeout=2.0)


@pytest.mark.parametrize("fault", ["500", "429", "reset", "hang", "drop"])
def test_every_fault_is_retried_and_each_summary_arrives_exactly_once(setup, fault):
    make, proxy, clock, process = setup
    study, store = make(250)  # three batches
    proxy.fail(fault, times=2)
    first = sync_once(store, client_factory=quick, rng=random.Random(1))
    assert first.failed and first.studies[0].retry
    proxy.release()
    for _ in range(3):  # the agent's later passes (its back-off elapsed)
        clock.now += timedelta(hours=1)
        report = sync_once(store, client_factory=quick)
        if not report.failed:
            break
    assert not report.failed, report
    ids = on_collector(process, study)
    assert sorted(ids) == [f"{i:032x}" for i in range(250)]  # all of them, each once
    assert store.outbox_counts() == {} and store.studies()[0]["sent"] == 250
    if fault == "drop":  # the collector had committed: the retry was answered as a duplicate
        assert any(s.duplicates for s in report.studies)


def test_a_week_without_the_collector_loses_nothing(setup, restart):
    make, proxy, clock, process = setup
    study, store = make(40)
    process.stop()
    failures = 0
    for hour in range(7 * 24):  # the agent tries every hour for a week, and keeps capturing meanwhile
        clock.now += timedelta(hours=1)
        summary = Summary(f"{40 + hour:032x}", bucket_of(clock.now), "chat", "en", "travel", 0.9,
                          {"destination": "Japan"}, "intent-en-test")
        assert store.add_summary(summary) == "stored"
        failures += sync_once(store, client_factory=quick).failed  # or waiting out its back-off
    assert failures >= 7 and sum(store.outbox_counts().values()) == 40 + 7 * 24
    assert len(store.batches_to_send(study.study_id)) <= 4  # the rest waits unsealed, still deletable
    process = restart(process)
    for _ in range(20):  # the agent's next passes, as back-off (and the collector's 429s) allow
        clock.now += timedelta(hours=6)
        report = sync_once(store, client_factory=quick)
        if not store.outbox_counts():
            break
    assert not report.failed and not store.outbox_counts(), report
    assert sorted(on_collector(process, study)) == [f"{i:032x}" for i in range(40 + 7 * 24)]
    assert "sync_loss" not in [entry["event"] for entry in store.audit_log()]

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ime_agent import consent
from ime_agent.capture import Segment
from ime_agent.config import load_config
from ime_agent.ingest import ingest
from ime_agent.pipeline import ClassifierError, Pipeline, app_category, summarize
from ime_agent.errors import SessionFormatError

START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("app, category", [
    ("firefox", "browser"), ("org.telegram.desktop", "chat"), ("Slack", "chat"), ("wechat", "chat"),
    ("thunderbird", "email"), ("libreoffice-writer", "office"), ("code", "code"),
    ("jetbrains-pycharm", "code"), ("some-game", "other"), (None, "other"),
])
def test_app_category(app, category):
    assert app_category(app) == category


def test_summarize_is_pure_and_keeps_no_text(fake_classifier):
    segment = Segment("I want to buy a laptop", "firefox", "enter", 1.0, 905.0)
    s = summarize(segment, fake_classifier.classify(segment.text), START)
    assert s.bucket == "2026-11-20T10:15:00Z"  # start + t_end
    assert (s.app_category, s.intent, s.slots, s.model_id) == ("browser", "purchase", {"product": "laptop"}, "fake-1")
    assert "laptop" not in repr(s).replace("'product': 'laptop'", "")
    assert not any(f in s.to_dict() for f in ("text", "app", "title"))


def test_none_is_only_counted(store, fake_classifier):
    consent.grant(store, ["travel"])
    segs = [Segment("hello there", "slack", "enter", 0, 1), Segment("a trip to the sea", "slack", "enter", 2, 3),
            Segment("buy shoes", "slack", "enter", 4, 5)]
    report = Pipeline(store, fake_classifier).process(segs, START)
    assert report.stored == {"travel": 1}
    assert report.not_stored == {"none": 1, "no_consent": 1}
    assert store.count_of("none", "2026-11-20") == 1
    assert [s.intent for s in store.summaries()] == ["travel"]


def test_without_any_consent_nothing_is_classified_or_counted(store, fake_classifier):
    report = Pipeline(store, fake_classifier).process([Segment("a trip", "slack", "enter", 0, 1)], START)
    assert report.not_stored == {"no_consent": 1}
    assert fake_classifier.calls == 0 and store.count_of("none") == 0


def test_classifier_failure_names_no_text(store):
    class Broken:
        def classify_many(self, texts):
            raise ValueError(f"cannot handle {texts[0]}")

    consent.grant(store)
    with pytest.raises(ClassifierError) as info:
        Pipeline(store, Broken()).process([Segment("secret plans for a trip", "slack", "enter", 0, 1)], START)
    assert "secret" not in str(info.value) and "ValueError" in str(info.value)
    assert info.value.__suppress_context__


def test_ingest_obeys_guards_and_reports(store, fake_classifier, make_session):
    consent.grant(store, ["purchase", "travel"])
    path = make_session([
        ("firefox", "Shop", False, "buy a laptop"),
        ("keepassxc", "Unlock Database", True, "hunter2"),
        ("xterm", "user@host", False, "a trip in a terminal"),
        ("slack", "Slack", False, "see the doctor"),
        ("slack", "Slack", False, "good morning"),
    ])
    report = ingest(store, [path], load_config(), classifier=fake_classifier, start=START)
    assert report.files == 1 and report.segments == 3
    assert report.stored == {"purchase": 1}
    assert report.not_stored == {"no_consent": 1, "none": 1}
    assert report.dropped_events["secure"] > 0 and report.dropped_events["denied"] > 0


def test_ingest_needs_consent(store, fake_classifier, make_session):
    path = make_session([("firefox", "Shop", False, "buy a laptop")])
    with pytest.raises(consent.NoConsent, match="run `ime-agent consent grant`"):
        ingest(store, [path], load_config(), classifier=fake_classifier)


def test_ingest_while_paused_drops_everything(store, fake_classifier, make_session):
    consent.grant(store)
    store.pause()
    path = make_session([("firefox", "Shop", False, "buy a laptop")])
    report = ingest(store, [path], load_config(), classifier=fake_classifier)
    assert report.segments == 0 and report.dropped_events["paused"] > 0 and store.summaries() == []


def test_malformed_file_stores_nothing(store, fake_classifier, make_session, tmp_path):
    consent.grant(store)
    good = make_session([("firefox", "Shop", False, "buy a laptop")])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 0, "type": "press"}\n')
    with pytest.raises(SessionFormatError, match="bad.jsonl:1"):
        ingest(store, [good, bad], load_config(), classifier=fake_classifier)
    assert store.summaries() == []


def test_shared_sessions_ingest_with_the_real_classifier(store, sessions_dir):
    consent.grant(store, consent.CATEGORIES)
    paths = sorted(p for p in sessions_dir.glob("session-*.jsonl") if not p.name.endswith(".expected.jsonl"))
    report = ingest(store, paths, load_config())
    assert report.files == 40 and report.segments > 100
    assert sum(report.stored.values()) == len(store.summaries()) > 0
    assert report.dropped_events["secure"] > 0
    for s in store.summaries():
        assert s.intent in consent.CATEGORIES and s.app_category in ("browser", "chat", "email", "office", "code", "other")


def test_process_segment_says_what_happened_without_text(store, data_dir, fake_classifier):
    from ime_agent.pipeline import NO_CONSENT, NONE, STORED
    from ime_agent.store import Store

    pipeline = Pipeline(store, fake_classifier)
    trip = Segment("a trip to Hanoi", "slack", "enter", 0, 1)
    assert pipeline.process_segment(trip, START) == NO_CONSENT
    consent.grant(store, ["travel"])
    assert pipeline.process_segment(trip, START) == STORED
    assert pipeline.process_segment(Segment("good morning", "slack", "enter", 2, 3), START) == NONE
    assert pipeline.process_segment(Segment("buy shoes", "slack", "enter", 4, 5), START) == NO_CONSENT
    # Withdrawn from elsewhere (the CLI's own connection): the very next segment obeys.
    with Store.open(data_dir) as cli:
        consent.withdraw(cli, ["travel"])
    assert pipeline.process_segment(trip, START) == NO_CONSENT
    assert store.summaries() == []
    assert store.count_of("none", "2026-11-20") == 1


def test_ingest_counts_none_per_day_and_keeps_no_row_for_it(store, fake_classifier, make_session):
    consent.grant(store, ["travel"])
    path = make_session([("slack", "Slack", False, "good morning"), ("slack", "Slack", False, "hello again")])
    report = ingest(store, [path], load_config(), classifier=fake_classifier, start=START)
    assert report.not_stored == {"none": 2}
    assert store.count_of("none", "2026-11-20") == 2
    assert store.counts()["total"] == 0 and store.outbox_counts() == {}


def test_empty_session_file_is_an_error(store, fake_classifier, tmp_path):
    consent.grant(store)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(SessionFormatError, match="empty.jsonl: no events"):
        ingest(store, [empty], load_config(), classifier=fake_classifier)


def test_only_slot_values_from_the_fixed_lists_are_kept():
    from ime_wire.vocabulary import closed_slots

    slots = {"product": "laptop", "destination": "my aunt's flat on 5th street", "note": "anything"}
    assert closed_slots("purchase", slots) == {"product": "laptop"}
    assert closed_slots("travel", {"product": "laptop", "destination": "Japan"}) == {"destination": "Japan"}
    assert closed_slots("purchase", {}) == {}

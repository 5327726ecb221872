"""The outbox as a state machine, without a collector: held → sealed → (sent) → acknowledged,
and what deletion, withdrawal and retention do to summaries that have not left yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ime_agent import consent
from ime_agent.store import Store
from ime_agent.sync import outbox
from ime_wire import keys
from ime_wire.summary import Summary
from ime_wire.timebucket import bucket_of
from studykit import make_study


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 20, 10, 7, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def joined(tmp_path):
    clock = Clock()
    store = Store.open(tmp_path / "p", key_source="file", clock=clock)
    consent.grant(store, consent.CATEGORIES)
    today = clock.now.date()
    study = make_study("https://collector.example.org", review_hold_seconds=3600,
                       starts=today - timedelta(days=1), ends=today + timedelta(days=60))
    device = Ed25519PrivateKey.generate()
    store.add_study(study_id=study.study_id, manifest=study.manifest_bytes, enrollment_id="e" * 32,
                    categories=consent.CATEGORIES, device_public=keys.encode_public(device.public_key()),
                    device_private=keys.private_bytes(device))
    yield store, clock, outbox.studies(store)[0]
    store.close()


def add(store, clock, n, intent="travel", slots=None):
    for i in range(n):
        summary = Summary(f"{'0123'[consent.CATEGORIES.index(intent)]}{i:031x}", bucket_of(clock.now), "chat", "en", intent, 0.9,
                          slots or {"travel": {"destination": "Japan"}, "health": {"concern": "sleep"},
                                    "purchase": {"product": "laptop"}}[intent], "m-1")
        assert store.add_summary(summary) == "stored"


def test_held_until_the_review_hold_then_sealed_with_frozen_bytes(joined):
    store, clock, study = joined
    add(store, clock, 3)
    assert outbox.seal_due(store, study, clock.now) == 0 and store.outbox_counts() == {"held": 3}
    clock.now += timedelta(hours=1)
    assert outbox.seal_due(store, study, clock.now) == 3 and store.outbox_counts() == {"sealed": 3}
    (batch,) = store.batches_to_send(study.study_id)
    store.mark_sent(batch["batch_id"])
    assert store.batches_to_send(study.study_id)[0]["upload"] == batch["upload"]  # a retry sends the same bytes
    assert store.mark_acknowledged(batch["batch_id"]) == 3
    assert store.outbox_counts() == {} and store.studies()[0]["sent"] == 3


def test_forget_before_upload_means_never_sent_even_once_sealed(joined):
    store, clock, study = joined
    add(store, clock, 2, "travel")
    add(store, clock, 2, "purchase")
    clock.now += timedelta(hours=1)
    outbox.seal_due(store, study, clock.now)
    store.forget(category="travel")  # the batch held both: it is discarded, the rest goes back to held
    assert store.batches_to_send(study.study_id) == [] and store.outbox_counts() == {"held": 2}
    outbox.seal_due(store, study, clock.now)
    preview = outbox.preview(store, study, clock.now)
    assert {s["intent"] for s in preview.summaries} == {"purchase"} and preview.frozen


def test_withdrawing_a_category_removes_its_unsent_rows(joined):
    store, clock, study = joined
    add(store, clock, 2, "health")
    add(store, clock, 1, "travel")
    consent.withdraw(store, ["health"])
    assert store.outbox_counts() == {"held": 1}


def test_an_unsent_summary_that_expires_is_a_counted_loss(joined):
    store, clock, study = joined
    add(store, clock, 2)
    clock.now += timedelta(days=31)
    assert store.apply_retention() == 2
    losses = [e for e in store.audit_log() if e["event"] == "sync_loss"]
    assert losses and losses[-1]["detail"]["summaries"] == 2


def test_leaving_clears_the_outbox(joined):
    store, clock, study = joined
    add(store, clock, 2)
    assert store.leave_study(study.study_id) == 2
    assert store.outbox_counts() == {} and store.studies() == []
    add(store, clock, 1, "purchase")  # after leaving, nothing is queued for the study any more
    assert store.outbox_counts() == {}

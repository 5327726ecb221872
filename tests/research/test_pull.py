"""Pull: real uploads (sealed and signed with ime_wire) through a stood-in feed into the research DB."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

import research_standins
from research_standins import standins  # noqa: F401  (the fixture)
from ime_wire import keys, manifest as wire_manifest
from ime_wire.envelope import make_upload
from ime_research.cli import main
from ime_research.errors import FeedError
from ime_research.pull import pull
from ime_research.researchdb import ResearchDB
from researchkit import (FeedStandIn, Participant, batch_item, random_summary, tombstone_item,
                      unchecked_plaintext)

pytestmark = pytest.mark.usefixtures("standins")


@pytest.fixture
def study(tmp_path):
    study_keys = research_standins.create_study(tmp_path / "study")
    manifest = wire_manifest.load((tmp_path / "study" / "study.json").read_bytes())
    return tmp_path / "study", manifest, study_keys


def summaries(manifest, n, seed=0):
    rng = random.Random(seed)
    return [random_summary(rng, manifest) for _ in range(n)]


def run_pull(study_dir, manifest, study_keys, feed, limit=500):
    with ResearchDB.in_study(study_dir) as db:
        counts = pull(db, feed, manifest, study_keys.hpke, limit=limit)
        return counts, db.load_summaries(), db.counters()


def test_valid_batches_are_kept_with_their_enrollment(study):
    study_dir, manifest, study_keys = study
    alice, bob = Participant(), Participant()
    feed = FeedStandIn([batch_item(alice, alice.upload(manifest, summaries(manifest, 30, 1))),
                        batch_item(bob, bob.upload(manifest, summaries(manifest, 20, 2))),
                        batch_item(alice, alice.upload(manifest, summaries(manifest, 5, 3)))])
    counts, table, _ = run_pull(study_dir, manifest, study_keys, feed)
    assert (counts.batches, counts.summaries, counts.duplicates, counts.bad_signatures) == (3, 55, 0, 0)
    by_enrollment = {e: table["enrollment_id"].to_pylist().count(e) for e in (alice.enrollment_id,
                                                                               bob.enrollment_id)}
    assert by_enrollment == {alice.enrollment_id: 35, bob.enrollment_id: 20}


def test_a_replayed_batch_is_stored_once(study):
    study_dir, manifest, study_keys = study
    alice = Participant()
    upload = alice.upload(manifest, summaries(manifest, 10))
    feed = FeedStandIn([batch_item(alice, upload), batch_item(alice, upload)])
    counts, table, _ = run_pull(study_dir, manifest, study_keys, feed)
    assert (counts.batches, counts.duplicates, table.num_rows) == (1, 1, 10)
    feed.add(batch_item(alice, upload))  # again, in a later pull
    counts, table, _ = run_pull(study_dir, manifest, study_keys, feed)
    assert (counts.batches, counts.duplicates, table.num_rows) == (0, 1, 10)


def test_bad_signatures_are_counted_and_dropped(study):
    study_dir, manifest, study_keys = study
    alice, mallory = Participant(), Participant()
    good = alice.upload(manifest, summaries(manifest, 4))
    forged = replace(alice.upload(manifest, summaries(manifest, 4)), signature=bytes(64))
    # the collector swapping an enrollment's device key later: neither key is trusted for it
    swapped = batch_item(alice, alice.upload(manifest, summaries(manifest, 4)))
    swapped["device_key"] = mallory.device_public
    feed = FeedStandIn([batch_item(alice, good), batch_item(alice, forged), swapped])
    counts, table, _ = run_pull(study_dir, manifest, study_keys, feed)
    assert (counts.batches, counts.bad_signatures, table.num_rows) == (1, 2, 4)


def test_envelopes_that_do_not_open_are_counted(study):
    study_dir, manifest, study_keys = study
    alice = Participant()
    # sealed to another key under this study's key id (a confused or hostile device)
    other = X25519PrivateKey.generate().public_key()
    good = alice.upload(manifest, summaries(manifest, 3))
    wrong_key = make_upload(b"{}" + b" " * 1022, other, good.context, alice.device_key)
    other_study = replace(good.context, study_id="0" * 32)
    moved = make_upload(b"{}" + b" " * 1022, keys.x25519_public(manifest.hpke_public_key), other_study,
                        alice.device_key)
    malformed = batch_item(alice, good)
    malformed["upload"] = {"batch_id": "x"}
    feed = FeedStandIn([batch_item(alice, wrong_key), batch_item(alice, moved), malformed,
                        batch_item(alice, alice.upload(manifest, summaries(manifest, 3)))])
    counts, table, _ = run_pull(study_dir, manifest, study_keys, feed)
    assert (counts.unopened, counts.batches, table.num_rows) == (3, 1, 3)


def test_out_of_vocabulary_summaries_are_dropped_and_the_rest_kept(study):
    study_dir, manifest, study_keys = study
    alice = Participant()
    good = [s.to_wire() for s in summaries(manifest, 3)]
    city = dict(good[0], id="a" * 32, intent="travel", slots={"destination": "Springfield"})
    odd_app = dict(good[1], id="b" * 32, app_category="photoshop")
    typed = dict(good[2], id="c" * 32, text="what the participant typed")
    upload = alice.upload_plaintext(manifest, unchecked_plaintext([*good, city, odd_app, typed]))
    counts, table, _ = run_pull(study_dir, manifest, study_keys, FeedStandIn([batch_item(alice, upload)]))
    assert (counts.batches, counts.summaries, counts.out_of_vocabulary) == (1, 3, 3)
    assert "Springfield" not in table["destination"].to_pylist()
    assert "photoshop" not in table["app_category"].to_pylist()


def test_a_tombstone_deletes_the_participant_and_blocks_later_batches(study):
    study_dir, manifest, study_keys = study
    alice, bob = Participant(), Participant()
    feed = FeedStandIn([batch_item(alice, alice.upload(manifest, summaries(manifest, 7))),
                        batch_item(bob, bob.upload(manifest, summaries(manifest, 5)))])
    run_pull(study_dir, manifest, study_keys, feed)
    late = alice.upload(manifest, summaries(manifest, 2, seed=9))
    feed.add(tombstone_item(alice), batch_item(alice, late), tombstone_item(alice))
    counts, table, totals = run_pull(study_dir, manifest, study_keys, feed)
    assert (counts.tombstones, counts.withdrawn_batches) == (1, 1)
    assert set(table["enrollment_id"].to_pylist()) == {bob.enrollment_id}
    with ResearchDB.in_study(study_dir) as db:
        assert alice.enrollment_id not in db.device_keys()
        assert [p.enrollment_id for p in db.participation()] == [bob.enrollment_id]
    assert totals["tombstones"] == 1


def test_a_tombstone_in_the_same_page_deletes_the_batches_before_it(study):
    study_dir, manifest, study_keys = study
    alice, bob = Participant(), Participant()
    feed = FeedStandIn([batch_item(alice, alice.upload(manifest, summaries(manifest, 3))),
                        batch_item(bob, bob.upload(manifest, summaries(manifest, 4))),
                        tombstone_item(alice),
                        batch_item(bob, bob.upload(manifest, summaries(manifest, 5, seed=2)))])
    counts, table, _ = run_pull(study_dir, manifest, study_keys, feed)
    assert (counts.batches, counts.summaries, counts.tombstones) == (3, 12, 1)
    assert table["enrollment_id"].to_pylist() == [bob.enrollment_id] * 9


def test_pull_resumes_from_the_cursor_after_an_interruption(study):
    study_dir, manifest, study_keys = study
    people = [Participant() for _ in range(3)]
    items = [batch_item(p, p.upload(manifest, summaries(manifest, 2, seed=i))) for i, p in enumerate(people * 3)]

    class Broken(FeedStandIn):
        def items(self, after, limit):
            if after == "4":
                raise OSError("connection reset")
            return super().items(after, limit)

    with pytest.raises(OSError):
        run_pull(study_dir, manifest, study_keys, Broken(items), limit=2)
    with ResearchDB.in_study(study_dir) as db:
        assert db.cursor() == "4" and db.load_summaries().num_rows == 8
    feed = FeedStandIn(items)
    counts, table, totals = run_pull(study_dir, manifest, study_keys, feed, limit=2)
    assert feed.calls[0] == ("4", 2)
    assert (counts.batches, counts.duplicates, table.num_rows, totals["batches"]) == (5, 0, 18, 9)


def test_a_malformed_page_or_tombstone_keeps_nothing_of_that_page(study):
    study_dir, manifest, study_keys = study
    alice = Participant()
    good = batch_item(alice, alice.upload(manifest, summaries(manifest, 2)))
    with pytest.raises(FeedError):
        run_pull(study_dir, manifest, study_keys, FeedStandIn([good, {"kind": "tombstone"}]))
    with ResearchDB.in_study(study_dir) as db:
        assert db.load_summaries().num_rows == 0 and db.cursor() is None

    class NotAFeed:
        def items(self, after, limit):
            return {"detail": "not found"}

    with pytest.raises(FeedError):
        run_pull(study_dir, manifest, study_keys, NotAFeed())


def test_pull_command_prints_every_count(study, monkeypatch):
    study_dir, manifest, study_keys = study
    alice, bob = Participant(), Participant()
    upload = alice.upload(manifest, summaries(manifest, 4))
    research_standins.FEEDS[manifest.study_id] = FeedStandIn([
        batch_item(alice, upload), batch_item(alice, upload),
        batch_item(bob, bob.upload(manifest, summaries(manifest, 3))), tombstone_item(bob)])
    monkeypatch.setenv("IME_RESEARCH_PASSPHRASE", "correct horse")
    result = CliRunner().invoke(main, ["pull", str(study_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "batches: 2", "summaries: 7", "duplicates: 1", "bad signatures: 0", "envelopes not opened: 0",
        "out-of-vocabulary values: 0", "tombstones applied: 1", "batches of withdrawn participants: 0"]


def test_pull_command_wrong_passphrase_is_one_line(study, monkeypatch):
    study_dir, manifest, _ = study
    research_standins.FEEDS[manifest.study_id] = FeedStandIn()
    monkeypatch.setenv("IME_RESEARCH_PASSPHRASE", "wrong")
    result = CliRunner().invoke(main, ["pull", str(study_dir)])
    assert result.exit_code == 1
    assert result.output == "Error: wrong passphrase for the study key\n"


def test_the_research_db_is_private(study):
    study_dir, manifest, study_keys = study
    run_pull(study_dir, manifest, study_keys, FeedStandIn())
    assert (study_dir / "research.db").stat().st_mode & 0o777 == 0o600




def test_pull_command_when_the_collector_cannot_be_reached_is_one_line(study, monkeypatch):
    import httpx

    study_dir, manifest, _ = study

    class Unreachable(FeedStandIn):
        def items(self, after, limit):
            raise httpx.ConnectError("connection refused")

    research_standins.FEEDS[manifest.study_id] = Unreachable()
    monkeypatch.setenv("IME_RESEARCH_PASSPHRASE", "correct horse")
    result = CliRunner().invoke(main, ["pull", str(study_dir)])
    assert result.exit_code == 1
    assert result.output == (f"Error: cannot reach the collector at {manifest.collector_url}: connection refused; "
                             "nothing was lost, run pull again\n")

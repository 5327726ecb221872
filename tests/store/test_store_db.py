"""The store through its public methods; damage is done the way an attacker or a crash would,
with a separate SQLite connection to the file."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
from contextlib import closing
from datetime import timedelta

import pytest

from ime_agent import consent
from ime_agent.errors import KeyUnavailable, SchemaTooNew, StoreError
from ime_agent.store import DB_NAME, NO_CONSENT, PAUSED, SCHEMA_LEVEL, STORED, PausedState, Store
from ime_agent.store.keys import KEY_FILE
from ime_wire.summary import Summary
from ime_wire.timebucket import bucket_of, iso


def summary(intent="travel", bucket="2026-11-20T10:00:00Z", slots=None, id=None) -> Summary:
    import uuid

    default = {"travel": {"destination": "Vietnam"}, "purchase": {"product": "laptop"}, "health": {"concern": "sleep"}}
    return Summary(id=id or uuid.uuid4().hex, bucket=bucket, app_category="chat", lang="en", intent=intent,
                   confidence=0.91, slots=slots if slots is not None else default[intent], model_id="m-1")


def raw(data_dir):
    """A plain SQLite connection to the profile's file, outside the store."""
    return closing(sqlite3.connect(data_dir / DB_NAME, isolation_level=None))


def test_schema_level_is_recorded_and_reopening_applies_nothing_twice(data_dir, clock):
    Store.open(data_dir, clock=clock).close()
    with Store.open(data_dir, clock=clock) as s:
        assert s.schema_level() == SCHEMA_LEVEL == 2
    with raw(data_dir) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"summaries", "daily_counts", "consent", "settings", "audit", "outbox", "batches", "studies"} <= tables


def test_a_database_from_a_newer_build_is_refused_untouched(data_dir, clock):
    Store.open(data_dir, clock=clock).close()
    with raw(data_dir) as db:
        db.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                   "VALUES ('ime-agent', 'm999_future', '2030-01-01')")
    before = (data_dir / DB_NAME).read_bytes()
    with pytest.raises(SchemaTooNew, match="written by a newer ime-agent .* upgrade ime-agent"):
        Store.open(data_dir, clock=clock)
    assert (data_dir / DB_NAME).read_bytes() == before


def test_nothing_is_stored_without_consent(store):
    assert store.add_summary(summary()) == NO_CONSENT
    assert store.summaries() == []
    consent.grant(store, ["travel"])
    assert store.add_summary(summary("travel")) == STORED
    assert store.add_summary(summary("health")) == NO_CONSENT
    assert [s.intent for s in store.summaries()] == ["travel"]


def test_nothing_is_stored_while_paused_even_by_a_writer_that_started_before(store, data_dir, clock):
    consent.grant(store, ["travel"])
    with Store.open(data_dir, clock=clock) as other:  # `ime-agent pause` from another process
        other.pause()
    assert store.add_summary(summary()) == PAUSED
    store.resume()
    assert store.add_summary(summary()) == STORED


def test_a_summary_outside_the_vocabulary_or_in_the_future_is_refused(store, clock):
    consent.grant(store, ["travel"])
    with pytest.raises(StoreError, match="invalid summary .*slot"):
        store.add_summary(summary(slots={"destination": "my aunt's flat"}))
    with pytest.raises(StoreError, match="future bucket"):
        store.add_summary(summary(bucket=bucket_of(clock.now + timedelta(hours=1))))
    assert store.summaries() == []


def test_default_grant_leaves_health_off(store):
    assert consent.grant(store) == ("purchase", "travel")
    assert consent.current(store) == {"purchase": True, "travel": True, "health": False}
    record = store.consent_records()[0]
    assert record["version"] == consent.CONSENT_VERSION and record["at"] == "2026-11-20T10:07:00Z"


def test_unknown_category_is_refused(store):
    with pytest.raises(consent.ConsentError, match="unknown category 'food'; use one of purchase, travel, health"):
        consent.grant(store, ["food"])


def test_withdraw_stops_and_deletes_that_category_only(store):
    consent.grant(store, consent.CATEGORIES)
    for intent in ("travel", "travel", "health"):
        store.add_summary(summary(intent))
    assert consent.withdraw(store, ["travel"]) == {"travel": 2}
    assert [s.intent for s in store.summaries()] == ["health"]
    assert store.add_summary(summary("travel")) == NO_CONSENT
    events = [(a["event"], a["detail"].get("category"), a["detail"].get("deleted")) for a in store.audit_log()]
    assert ("consent_withdrawn", "travel", 2) in events


def test_audit_log_is_append_only(store, data_dir):
    store.audit("export", rows=0)
    with raw(data_dir) as db:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("DELETE FROM audit")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("UPDATE audit SET event = 'x'")


def test_pause_until_resume_and_for_a_while(store, clock):
    assert store.paused_state() == PausedState(False)
    store.pause()
    assert store.paused_state() == PausedState(True, None)
    store.resume()
    assert not store.paused_state().paused
    state = store.pause(15 * 60)
    assert store.paused_state() == state and state.until == clock.now + timedelta(minutes=15)
    clock.now += timedelta(minutes=15, seconds=1)
    assert store.paused_state() == PausedState(False)
    assert [a["event"] for a in store.audit_log()] == ["pause", "resume", "pause"]


def test_a_damaged_pause_setting_keeps_the_profile_paused(store, data_dir):
    with raw(data_dir) as db:
        db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('paused_until', 'not a time')")
    assert store.paused_state() == PausedState(True, None)


def test_another_connection_sees_pause_at_once(store, data_dir, clock):
    with Store.open(data_dir, clock=clock) as agent:
        assert not agent.paused_state().paused
        store.pause()
        assert agent.paused_state().paused


def test_forget_all_category_since(store, clock):
    consent.grant(store, consent.CATEGORIES)
    store.add_summary(summary("travel", "2026-11-19T09:00:00Z"))
    store.add_summary(summary("travel", "2026-11-20T10:00:00Z"))
    store.add_summary(summary("purchase", "2026-11-20T10:00:00Z"))
    store.add_summary(summary("health", "2026-11-18T10:00:00Z"))
    store.add_count("2026-11-20", "none", 3)
    assert store.forget(since=clock.now - timedelta(minutes=5)) == 2  # the 10:00 window holds 10:02
    assert store.forget(category="health") == 1
    assert store.forget(everything=True) == 1
    assert store.summaries() == [] and store.count_of("none") == 0
    with pytest.raises(StoreError, match="--all, --category C or --since T"):
        store.forget()


def test_deletion_and_withdrawal_work_without_the_key(data_dir, clock):
    with Store.open(data_dir, clock=clock) as s:
        consent.grant(s, consent.CATEGORIES)
        for intent in ("travel", "health", "purchase"):
            s.add_summary(summary(intent))
    (data_dir / KEY_FILE).unlink()  # the key is gone (or the keyring locked, the passphrase forgotten)
    with pytest.raises(KeyUnavailable):
        Store.open(data_dir, clock=clock)
    with Store.open(data_dir, clock=clock, unlock=False) as s:
        assert s.forget(category="health") == 1
        assert consent.withdraw(s, ["travel"]) == {"travel": 1}
        s.pause()
        assert s.counts()["total"] == 1
        with pytest.raises(KeyUnavailable, match="needs the profile key"):
            s.summaries()
        assert s.forget(everything=True) == 1


def test_retention_purge_on_open(data_dir, clock):
    with Store.open(data_dir, clock=clock) as s:
        consent.grant(s, ["travel"])
        s.add_summary(summary(bucket="2026-10-01T10:00:00Z"))
        s.add_summary(summary(bucket="2026-11-19T10:00:00Z"))
    with Store.open(data_dir, clock=clock, retention_days=30) as s:
        assert [x.bucket for x in s.summaries()] == ["2026-11-19T10:00:00Z"]
        assert s.audit_log()[-1]["event"] == "retention_purge"
        assert s.audit_log()[-1]["detail"] == {"deleted": 1, "retention_days": 30}


def test_counts(store, clock):
    consent.grant(store, ["travel", "purchase"])
    store.add_summary(summary("travel", bucket_of(clock.now)))
    store.add_summary(summary("purchase", "2026-11-19T10:00:00Z"))
    store.add_count(clock.now.date().isoformat(), "none", 2)
    assert store.counts() == {"by_category": {"travel": 1, "purchase": 1}, "total": 2, "today": 1, "none_today": 2}


def test_secret_columns_are_sealed_padded_and_bound_to_every_plain_column(store, data_dir):
    consent.grant(store, consent.CATEGORIES)
    short = summary("health", slots={"concern": "eyes", "who": "self"})
    long = summary("travel", slots={"destination": "United Arab Emirates", "trip_length": "short", "party": "family"})
    store.add_summary(short)
    store.add_summary(long)
    with raw(data_dir) as db:
        sizes = {row[0] for row in db.execute("SELECT length(sealed) FROM summaries")}
    assert len(sizes) == 1  # the ciphertext's length says nothing about what it holds
    everything = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())
    assert b"Emirates" not in everything and b"destination" not in everything
    # Editing a plain column by hand (intent, bucket) or moving a sealed value makes that row fail,
    # and only that row: the rest stays readable.
    with raw(data_dir) as db:
        db.execute("UPDATE summaries SET bucket = '2026-11-20T09:45:00Z' WHERE id = ?", [short.id])
    rows, damaged = store.read_summaries()
    assert [r.id for r in rows] == [long.id] and damaged == 1
    with raw(data_dir) as db:
        db.execute("UPDATE summaries SET bucket = ?, intent = 'purchase' WHERE id = ?", [short.bucket, short.id])
    assert store.read_summaries()[1] == 1
    with raw(data_dir) as db:
        sealed = db.execute("SELECT sealed FROM summaries WHERE id = ?", [long.id]).fetchone()[0]
        db.execute("UPDATE summaries SET intent = 'health', sealed = ? WHERE id = ?", [sealed, short.id])
    rows, damaged = store.read_summaries()
    assert [r.id for r in rows] == [long.id] and damaged == 1


def test_one_flipped_byte_is_reported_and_skipped(store, data_dir):
    consent.grant(store, ["travel"])
    kept, hit = summary(), summary()
    store.add_summary(kept)
    store.add_summary(hit)
    with raw(data_dir) as db:
        sealed = bytearray(db.execute("SELECT sealed FROM summaries WHERE id = ?", [hit.id]).fetchone()[0])
        sealed[20] ^= 1
        db.execute("UPDATE summaries SET sealed = ? WHERE id = ?", [bytes(sealed), hit.id])
    assert store.read_summaries() == ([kept], 1)


def test_key_material_is_never_overwritten(data_dir, clock, monkeypatch):
    with Store.open(data_dir, clock=clock) as s:
        consent.grant(s, ["travel"])
        s.add_summary(summary())
    key_before = (data_dir / KEY_FILE).read_bytes()
    with raw(data_dir) as db:
        db.execute("DELETE FROM settings WHERE key = 'key_source'")
    monkeypatch.setenv("IME_AGENT_KEY_SOURCE", "passphrase")
    monkeypatch.setenv("IME_AGENT_PASSPHRASE", "a new passphrase that would orphan the data")
    with pytest.raises(KeyUnavailable, match="key records .* damaged"):
        Store.open(data_dir, clock=clock)
    with raw(data_dir) as db:
        db.execute("DELETE FROM settings WHERE key = 'key_check'")
    with pytest.raises(KeyUnavailable, match="holds data but its key records are missing"):
        Store.open(data_dir, clock=clock)
    with raw(data_dir) as db:
        assert db.execute("SELECT count(*) FROM settings WHERE key IN ('kdf', 'key_check')").fetchone()[0] == 0
    assert (data_dir / KEY_FILE).read_bytes() == key_before


def test_a_failed_passphrase_setup_leaves_no_half_made_profile(data_dir, clock, monkeypatch):
    monkeypatch.setenv("IME_AGENT_KEY_SOURCE", "passphrase")
    with pytest.raises(KeyUnavailable, match="protected by a passphrase"):
        Store.open(data_dir, clock=clock)  # no passphrase, no prompt
    assert not data_dir.exists()
    monkeypatch.setenv("IME_AGENT_KEY_SOURCE", "file")
    with Store.open(data_dir, clock=clock) as s:  # a later command starts a clean profile
        assert s.setting("key_source") == "file"


def test_the_data_dir_is_made_private_even_if_it_existed(tmp_path, clock):
    data_dir = tmp_path / "loose"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    Store.open(data_dir, clock=clock).close()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / DB_NAME).stat().st_mode) == 0o600


def test_export_jsonl_csv_and_standard_output(store, tmp_path, capsys):
    consent.grant(store, ["travel"])
    s = summary()
    store.add_summary(s)
    out = tmp_path / "mine.jsonl"
    assert store.export(out, "jsonl") == 1
    assert json.loads(out.read_text()) == s.to_dict()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    store.export(tmp_path / "mine.csv", "csv")
    (row,) = csv.DictReader((tmp_path / "mine.csv").open())
    assert row["intent"] == "travel" and json.loads(row["slots"]) == {"destination": "Vietnam"}
    store.export("-", "jsonl")
    assert json.loads(capsys.readouterr().out) == s.to_dict()
    assert not (tmp_path / "-").exists() and not os.path.exists("-")
    assert [a["event"] for a in store.audit_log()][-3:] == ["export", "export", "export"]


def test_export_refuses_links_and_devices_and_changes_no_other_file(store, tmp_path):
    consent.grant(store, ["travel"])
    store.add_summary(summary())
    target = tmp_path / "someone-elses.txt"
    target.write_text("keep me")
    os.chmod(target, 0o644)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link"):
        store.export(link, "jsonl")
    assert target.read_text() == "keep me" and stat.S_IMODE(target.stat().st_mode) == 0o644
    mode = os.stat("/dev/full").st_mode
    with pytest.raises(StoreError, match="not a regular file"):
        store.export("/dev/full", "jsonl")
    assert os.stat("/dev/full").st_mode == mode


def test_deleted_rows_leave_no_bytes(store, data_dir):
    consent.grant(store, ["travel"])
    marker = "7f3c9e1a0b2d4c6e8f1a3b5c7d9e0f12"
    store.add_summary(summary(id=marker))
    store.forget(everything=True)
    everything = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())
    assert marker.encode() not in everything


def test_store_file_has_no_text_column(store, data_dir):
    with raw(data_dir) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(summaries)")}
    assert columns == {"id", "bucket", "intent", "model_id", "sealed",
                       "app_category", "lang", "confidence", "slots"}  # level-1 columns, always NULL now


def test_unopenable_database_says_how_to_fix(data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / DB_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="move the data dir away"):
        Store.open(data_dir)


def test_iso_is_utc_z():
    from datetime import UTC, datetime

    assert iso(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"


def test_apply_retention_for_a_running_agent(data_dir, clock):
    with Store.open(data_dir, clock=clock, retention_days=30) as s:
        consent.grant(s, ["travel"])
        s.add_summary(summary(bucket=bucket_of(clock.now)))
        s.add_count(clock.now.date().isoformat(), "none", 2)
        assert s.apply_retention() == 0  # nothing old yet: no write, no audit entry
        clock.now += timedelta(days=31)  # the agent kept running for a month
        assert s.apply_retention() == 1
        assert s.summaries() == [] and s.count_of("none") == 0
        assert s.audit_log()[-1]["event"] == "retention_purge"


def test_retention_also_drops_old_daily_counts(data_dir, clock):
    with Store.open(data_dir, clock=clock) as s:
        s.add_count("2026-09-01", "none", 5)
        s.add_count("2026-11-20", "none", 1)
        s.apply_retention()
        assert s.count_of("none") == 1 and s.count_of("none", "2026-11-20") == 1
    with Store.open(data_dir, clock=clock, retention_days=None) as s:
        assert s.apply_retention() == 0


def test_damaged_database_is_one_clear_error(store, data_dir):
    consent.grant(store, ["travel"])
    store.add_summary(summary())
    store.close()
    db = data_dir / "ime-agent.db"
    data = bytearray(db.read_bytes())
    for offset in range(4096 * 2, len(data), 4096):
        data[offset:offset + 64] = b"\xff" * 64
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="is damaged .* move the data dir away"):
        with Store.open(data_dir) as s:
            s.summaries()
            s.counts()


def test_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(StoreError, match="is a file, not a directory; choose another with --data-dir"):
        Store.open(tmp_path / "f")

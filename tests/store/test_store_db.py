from __future__ import annotations

import csv
import json
import sqlite3
from datetime import timedelta

import pytest

from ime_agent import consent
from ime_agent.crypto import DecryptError
from ime_agent.store import DB_NAME, PausedState, Store, StoreError, Summary, bucket_of, iso


def summary(intent="travel", bucket="2026-11-20T10:00:00Z", slots=None, id=None) -> Summary:
    import uuid

    return Summary(id=id or uuid.uuid4().hex, bucket=bucket, app_category="chat", lang="en", intent=intent,
                   confidence=0.91, slots=slots if slots is not None else {"destination": "Vietnam"}, model_id="m-1")


def test_schema_is_migrated_and_recorded(store):
    db = store.db
    assert {"summaries", "daily_counts", "consent", "settings", "audit", "outbox"} <= set(db.table_names())
    applied = [r["name"] for r in db["_sqlite_migrations"].rows_where("migration_set = 'ime-agent'")]
    assert applied == ["m001_initial"]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_reopen_applies_nothing_twice(data_dir, clock):
    Store.open(data_dir, clock=clock).close()
    with Store.open(data_dir, clock=clock) as s:
        assert s.db["_sqlite_migrations"].count == 1


def test_bucket_is_start_of_15_minute_window():
    from datetime import UTC, datetime, timezone

    assert bucket_of(datetime(2026, 11, 20, 10, 29, 59, tzinfo=UTC)) == "2026-11-20T10:15:00Z"
    assert bucket_of(datetime(2026, 11, 20, 11, 0, tzinfo=timezone(timedelta(hours=1)))) == "2026-11-20T10:00:00Z"


def test_nothing_is_stored_without_consent(store):
    assert store.add_summary(summary()) is False
    assert store.summaries() == []
    consent.grant(store, ["travel"])
    assert store.add_summary(summary("travel")) is True
    assert store.add_summary(summary("health")) is False
    assert [s.intent for s in store.summaries()] == ["travel"]


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
    assert store.add_summary(summary("travel")) is False
    assert store.db["outbox"].count == 1
    events = [(a["event"], a["detail"].get("category"), a["detail"].get("deleted")) for a in store.audit_log()]
    assert ("consent_withdrawn", "travel", 2) in events


def test_audit_log_is_append_only(store):
    store.audit("export", rows=0)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("DELETE FROM audit")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db.execute("UPDATE audit SET event = 'x'")


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
    assert store.summaries() == [] and store.db["daily_counts"].count == 0 and store.db["outbox"].count == 0
    with pytest.raises(StoreError, match="--all, --category C or --since T"):
        store.forget()


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


def test_slots_are_encrypted_and_bound_to_their_row(store, data_dir):
    consent.grant(store, ["travel"])
    a, b = summary(slots={"destination": "Zanzibarville"}), summary(slots={"destination": "Elsewhere"})
    store.add_summary(a)
    store.add_summary(b)
    raw = b"".join(p.read_bytes() for p in data_dir.iterdir())
    assert b"Zanzibarville" not in raw and b"destination" not in raw
    assert {s.slots["destination"] for s in store.summaries()} == {"Zanzibarville", "Elsewhere"}
    # A sealed value moved to another row does not decrypt.
    sealed = store.db.execute("SELECT slots FROM summaries WHERE id = ?", [a.id]).fetchone()[0]
    store.db.execute("UPDATE summaries SET slots = ? WHERE id = ?", [sealed, b.id])
    with pytest.raises(DecryptError, match="does not decrypt"):
        store.summaries()


def test_export_jsonl_and_csv(store, tmp_path):
    consent.grant(store, ["travel"])
    s = summary()
    store.add_summary(s)
    out = tmp_path / "mine.jsonl"
    assert store.export(out, "jsonl") == 1
    assert json.loads(out.read_text()) == s.to_dict()
    assert out.stat().st_mode & 0o777 == 0o600
    store.export(tmp_path / "mine.csv", "csv")
    (row,) = csv.DictReader((tmp_path / "mine.csv").open())
    assert row["intent"] == "travel" and json.loads(row["slots"]) == {"destination": "Vietnam"}
    assert [a["event"] for a in store.audit_log()][-2:] == ["export", "export"]


def test_deleted_rows_leave_no_bytes(store, data_dir):
    consent.grant(store, ["travel"])
    marker = "Q7XJ-deleted-marker"
    store.add_summary(summary(id=marker))
    store.forget(everything=True)
    raw = b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())
    assert marker.encode() not in raw


def test_store_file_has_no_text_column(store):
    columns = {c.name for c in store.db["summaries"].columns}
    assert columns == {"id", "bucket", "intent", "model_id", "app_category", "lang", "confidence", "slots"}


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
        assert s.summaries() == [] and s.db["daily_counts"].count == 0 and s.db["outbox"].count == 0
        assert s.audit_log()[-1]["event"] == "retention_purge"


def test_retention_also_drops_old_daily_counts(data_dir, clock):
    with Store.open(data_dir, clock=clock) as s:
        s.add_count("2026-09-01", "none", 5)
        s.add_count("2026-11-20", "none", 1)
        s.apply_retention()
        assert [r["day"] for r in s.db["daily_counts"].rows] == ["2026-11-20"]
    with Store.open(data_dir, clock=clock, retention_days=None) as s:
        assert s.apply_retention() == 0


def test_damaged_database_is_one_clear_error(store, data_dir):
    consent.grant(store, ["travel"])
    store.add_summary(summary())
    store.close()
    db = data_dir / "ime-agent.db"
    raw = bytearray(db.read_bytes())
    for offset in range(4096 * 2, len(raw), 4096):
        raw[offset:offset + 64] = b"\xff" * 64
    db.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="is damaged .* move the data dir away"):
        with Store.open(data_dir) as s:
            s.summaries()
            s.counts()


def test_data_dir_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(StoreError, match="is a file, not a directory; choose another with --data-dir"):
        Store.open(tmp_path / "f")

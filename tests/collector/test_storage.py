"""One test suite for the storage interface, run over SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
import secrets
import threading

import pytest

from ime_collector.errors import DatabaseURLError, SchemaTooNew, StudyConflict
from ime_collector.storage import Enrolled, Stored, open_storage
from ime_collector.storage.migrations import LATEST, TABLE

TODAY = "2026-03-10"
NOW = "2026-03-10T12:00:00Z"
LATER = "2026-04-01T00:00:00Z"
EARLIER = "2026-03-01T00:00:00Z"


@pytest.fixture
def storage(db_url):
    opened = open_storage(db_url)
    yield opened
    opened.close()


def new_study(storage, retention_days: int = 30) -> str:
    study_id = secrets.token_hex(16)
    assert storage.add_study(study_id, b'{"manifest": "' + study_id.encode() + b'"}', retention_days, TODAY)
    return study_id


def new_enrollment(storage, study_id: str, device_key: str | None = None) -> str:
    code_hash = secrets.token_hex(32)
    storage.add_invites(study_id, [(code_hash, LATER)])
    outcome, enrollment_id = storage.enroll(study_id, code_hash, device_key or secrets.token_hex(16), NOW, TODAY)
    assert outcome is Enrolled.CREATED
    return enrollment_id


def add(storage, study_id, enrollment_id, body: bytes, batch_id: str | None = None, day: str = TODAY) -> Stored:
    return storage.add_batch(study_id, enrollment_id, batch_id or secrets.token_hex(16), body,
                             hashlib.sha256(body).hexdigest(), day)


def everything(storage, study_id, limit=1000):
    return storage.items(study_id, None, limit).items


def test_schema_is_migrated_once_and_reopening_changes_nothing(db_url):
    first = open_storage(db_url)
    assert first.schema_level() == LATEST
    study_id = new_study(first)
    first.close()
    again = open_storage(db_url)
    assert again.schema_level() == LATEST and again.study_manifest(study_id) is not None
    again.close()


def test_a_database_newer_than_the_build_is_refused(db_url):
    storage = open_storage(db_url)
    with storage._transaction(write=True) as tx:
        tx.run(f"INSERT INTO {TABLE} (level, name, applied) VALUES (?, ?, ?)", LATEST + 1, "from the future", TODAY)
    storage.close()
    with pytest.raises(SchemaTooNew, match=f"schema level {LATEST + 1}.*upgrade ime-collector"):
        open_storage(db_url)


def test_database_urls_other_than_sqlite_and_postgresql_are_refused():
    for url in ("mysql://x/y", "sqlite:///", "collector.db"):
        with pytest.raises(DatabaseURLError):
            open_storage(url)


def test_a_study_is_registered_once_and_never_replaced(storage):
    study_id = secrets.token_hex(16)
    assert storage.add_study(study_id, b"manifest-one", 30, TODAY) is True
    assert storage.add_study(study_id, b"manifest-one", 30, TODAY) is False
    with pytest.raises(StudyConflict, match="different manifest"):
        storage.add_study(study_id, b"manifest-two", 30, TODAY)
    assert storage.study_manifest(study_id) == b"manifest-one"
    assert storage.study_manifest(secrets.token_hex(16)) is None


def test_invites_count_new_and_known_hashes(storage):
    study_id = new_study(storage)
    hashes = [secrets.token_hex(32) for _ in range(3)]
    assert storage.add_invites(study_id, [(h, LATER) for h in hashes]) == (3, 0)
    assert storage.add_invites(study_id, [(h, LATER) for h in hashes[:2]] + [(secrets.token_hex(32), LATER)]) == (1, 2)


def test_a_code_enrolls_one_device_and_a_retry_gets_the_same_enrollment(storage):
    study_id = new_study(storage)
    code, expired = secrets.token_hex(32), secrets.token_hex(32)
    storage.add_invites(study_id, [(code, LATER), (expired, EARLIER)])
    outcome, enrollment_id = storage.enroll(study_id, code, "device-a", NOW, TODAY)
    assert outcome is Enrolled.CREATED and len(enrollment_id) == 32
    assert storage.enroll(study_id, code, "device-a", NOW, TODAY) == (Enrolled.AGAIN, enrollment_id)
    assert storage.enroll(study_id, code, "device-b", NOW, TODAY) == (Enrolled.CODE_USED, None)
    assert storage.enroll(study_id, expired, "device-b", NOW, TODAY) == (Enrolled.UNKNOWN_CODE, None)
    assert storage.enroll(study_id, secrets.token_hex(32), "device-b", NOW, TODAY) == (Enrolled.UNKNOWN_CODE, None)
    assert storage.enroll(new_study(storage), code, "device-a", NOW, TODAY) == (Enrolled.UNKNOWN_CODE, None)
    found = storage.enrollment(enrollment_id)
    assert (found.study_id, found.device_key, found.enrolled, found.withdrawn) == (study_id, "device-a", TODAY, None)
    storage.withdraw(study_id, enrollment_id, TODAY)
    assert storage.enroll(study_id, code, "device-a", NOW, TODAY) == (Enrolled.WITHDRAWN, None)


def test_one_code_raced_by_many_devices_enrolls_exactly_one(storage):
    study_id = new_study(storage)
    code = secrets.token_hex(32)
    storage.add_invites(study_id, [(code, LATER)])
    outcomes = []

    def join(device: str) -> None:
        outcomes.append(storage.enroll(study_id, code, device, NOW, TODAY)[0])

    threads = [threading.Thread(target=join, args=(f"device-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.value for o in outcomes) == ["code-used"] * 7 + ["created"]


def test_a_batch_is_kept_once_per_batch_id(storage):
    study_id = new_study(storage)
    enrollment_id = new_enrollment(storage, study_id)
    batch_id = secrets.token_hex(16)
    assert add(storage, study_id, enrollment_id, b"sealed-1", batch_id) is Stored.STORED
    assert add(storage, study_id, enrollment_id, b"sealed-1", batch_id) is Stored.DUPLICATE
    assert add(storage, study_id, enrollment_id, b"sealed-2", batch_id) is Stored.CONFLICT
    assert [i.body for i in everything(storage, study_id)] == [b"sealed-1"]
    assert add(storage, study_id, secrets.token_hex(16), b"sealed-3") is Stored.NOT_ENROLLED
    assert add(storage, new_study(storage), enrollment_id, b"sealed-4") is Stored.NOT_ENROLLED


def test_the_same_batch_raced_from_many_threads_is_kept_once(storage):
    study_id = new_study(storage)
    enrollment_id = new_enrollment(storage, study_id)
    batch_id = secrets.token_hex(16)
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(add(storage, study_id, enrollment_id, b"same", batch_id)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.value for o in outcomes) == ["duplicate"] * 7 + ["stored"]
    assert len(everything(storage, study_id)) == 1


def test_withdrawal_deletes_the_batches_and_leaves_one_tombstone(storage):
    study_id = new_study(storage)
    leaving, staying = new_enrollment(storage, study_id, "key-1"), new_enrollment(storage, study_id, "key-2")
    for n in range(3):
        add(storage, study_id, leaving, f"leaving-{n}".encode())
    add(storage, study_id, staying, b"staying")
    assert storage.withdraw(study_id, leaving, "2026-03-11") == 3
    assert storage.withdraw(study_id, leaving, "2026-03-12") == 0
    assert storage.withdraw(study_id, secrets.token_hex(16), TODAY) is None
    assert storage.withdraw(new_study(storage), staying, TODAY) is None
    items = everything(storage, study_id)
    assert [(i.kind, i.body) for i in items] == [("batch", b"staying"), ("tombstone", None)]
    assert (items[1].enrollment_id, items[1].day) == (leaving, "2026-03-11")
    assert storage.enrollment(leaving).withdrawn == "2026-03-11"
    assert add(storage, study_id, leaving, b"after leaving") is Stored.NOT_ENROLLED


def test_the_feed_pages_by_cursor_oldest_first(storage):
    study_id = new_study(storage)
    enrollment_id = new_enrollment(storage, study_id, "device-key")
    bodies = [f"sealed-{n:02}".encode() for n in range(25)]
    for body in bodies:
        add(storage, study_id, enrollment_id, body)
    seen, cursor, pages = [], None, 0
    while True:
        page = storage.items(study_id, cursor, 10)
        seen += [i.body for i in page.items]
        assert all(i.device_key == "device-key" and i.day == TODAY for i in page.items)
        cursor, pages = page.next, pages + 1
        if not page.more:
            break
    assert seen == bodies and pages == 3
    assert storage.items(study_id, cursor, 10).items == []
    assert storage.items(study_id, cursor, 10).next == cursor
    add(storage, study_id, enrollment_id, b"late")
    assert [i.body for i in storage.items(study_id, cursor, 10).items] == [b"late"]
    assert storage.items(new_study(storage), None, 10).items == []
    with pytest.raises(ValueError, match="cursor"):
        storage.items(study_id, "not-a-cursor", 10)


def test_retention_deletes_old_bodies_but_still_recognises_a_retry(storage):
    study_id = new_study(storage, retention_days=7)
    enrollment_id = new_enrollment(storage, study_id)
    old_id = secrets.token_hex(16)
    add(storage, study_id, enrollment_id, b"old", old_id, day="2026-03-01")
    add(storage, study_id, enrollment_id, b"recent", day="2026-03-05")
    assert storage.purge("2026-03-10") == 1
    assert storage.purge("2026-03-10") == 0
    assert [i.body for i in everything(storage, study_id)] == [b"recent"]
    assert add(storage, study_id, enrollment_id, b"old", old_id) is Stored.DUPLICATE
    assert [i.body for i in everything(storage, study_id)] == [b"recent"]


def test_the_feed_never_passes_a_row_whose_transaction_commits_late(postgres_url):
    import psycopg  # noqa: PLC0415

    storage = open_storage(postgres_url)
    study_id = new_study(storage)
    enrollment_id = new_enrollment(storage, study_id)
    seen, cursor = [], None

    def pull() -> None:
        nonlocal cursor
        page = storage.items(study_id, cursor, 100)
        seen.extend(i.body for i in page.items)
        cursor = page.next

    with psycopg.connect(postgres_url) as slow:  # a transaction that writes first and commits last
        slow.execute("INSERT INTO items (study_id, kind, enrollment_id, batch_id, digest, body, day) "
                     "VALUES (%s, 'batch', %s, %s, 'd', 'slow', %s)", (study_id, enrollment_id, secrets.token_hex(16), TODAY))
        add(storage, study_id, enrollment_id, b"fast")
        pull()
        assert seen == []  # "fast" waits until the older transaction has ended
        slow.commit()
    pull()
    pull()
    assert seen == [b"slow", b"fast"]
    storage.close()

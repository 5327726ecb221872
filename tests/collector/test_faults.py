"""Faults between an agent and the collector: crashes, lost answers, rate limits, a lost database.

Whatever happens after the collector commits, a retry of the same bytes stores nothing twice."""

from __future__ import annotations

import httpx
import pytest

from faults import FaultProxy
from ime_collector.settings import RATE_BURST_ENV, RATE_PER_MINUTE_ENV, TEST_CRASH_FILE_ENV
from studykit import Device, batch_ids, enroll, feed, make_study, post_upload, register_study, summaries
from xserver import wait_until


def test_a_collector_killed_between_commit_and_answer_keeps_exactly_one_copy(db_url, collector_factory, tmp_path):
    crash_file = tmp_path / "crash-next-commit"
    env = {TEST_CRASH_FILE_ENV: str(crash_file)}
    first = collector_factory(db_url, env=env, name="before-crash")
    study = make_study(first.url)
    register_study(db_url, study)
    device = Device.new()
    with httpx.Client(base_url=first.url, timeout=10) as http:
        enrollment_id = enroll(http, study, device)
        upload = study.upload(device, enrollment_id, summaries(4))
        crash_file.touch()
        with pytest.raises(httpx.TransportError):  # no answer: the agent cannot know it was stored
            post_upload(http, study, upload)
    wait_until(lambda: not first.alive(), timeout=10, what="the collector to die")
    assert not crash_file.exists()  # the hook fired, after the commit

    second = collector_factory(db_url, env=env, name="after-crash")
    with httpx.Client(base_url=second.url, timeout=10) as http:
        retry = post_upload(http, study, upload)
        assert retry.status_code == 200 and retry.json()["duplicate"] is True
        items, _ = feed(http, study)
    assert batch_ids(items) == [upload.context.batch_id]


def test_a_lost_answer_then_a_retry_keeps_exactly_one_copy(served, study):
    with FaultProxy(served[1].url) as proxy, httpx.Client(base_url=proxy.url, timeout=10) as http:
        device = Device.new()
        enrollment_id = enroll(http, study, device)
        upload = study.upload(device, enrollment_id, summaries(3))
        proxy.fail("drop")
        with pytest.raises(httpx.RemoteProtocolError):
            post_upload(http, study, upload)
        assert proxy.log[-1].fault == "drop" and proxy.log[-1].upstream_status == 201
        retry = post_upload(http, study, upload)
        assert retry.status_code == 200 and retry.json()["duplicate"] is True
        assert batch_ids(feed(http, study)[0]) == [upload.context.batch_id]


def test_too_many_uploads_from_one_enrollment_get_429_with_retry_after(collector_factory, tmp_path):
    db_url = f"sqlite:///{tmp_path}/collector.db"
    collector = collector_factory(db_url, env={RATE_BURST_ENV: "3", RATE_PER_MINUTE_ENV: "1"})
    study = make_study(collector.url)
    register_study(db_url, study)
    with httpx.Client(base_url=collector.url, timeout=10) as http:
        device, other = Device.new(), Device.new()
        enrollment_id, other_id = enroll(http, study, device), enroll(http, study, other)
        for _ in range(5):  # forged uploads naming that enrollment do not spend its allowance
            assert post_upload(http, study, study.upload(Device.new(), enrollment_id, summaries(1))).status_code == 403
        statuses = [post_upload(http, study, study.upload(device, enrollment_id, summaries(1))).status_code
                    for _ in range(3)]
        assert statuses == [201, 201, 201]
        refused = post_upload(http, study, study.upload(device, enrollment_id, summaries(1)))
        assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # another device has its own allowance
        assert post_upload(http, study, study.upload(other, other_id, summaries(1))).status_code == 201
        assert len(feed(http, study)[0]) == 4


def test_healthz_is_503_when_postgresql_is_gone(postgres_cluster, postgres_database, collector_factory):
    collector = collector_factory(postgres_cluster.url(postgres_database))
    assert httpx.get(collector.url + "/healthz").status_code == 200
    postgres_cluster.drop_database(postgres_database)  # terminates the collector's connections too

    def unavailable():
        answer = httpx.get(collector.url + "/healthz", timeout=15)
        return answer if answer.status_code == 503 else None

    answer = wait_until(unavailable, timeout=30, interval=0.2, what="healthz to report the lost database")
    assert answer.headers["content-type"] == "application/problem+json"
    assert "database" in answer.json()["detail"]

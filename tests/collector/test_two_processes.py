"""Past one machine: two collector processes behind one PostgreSQL serve one study correctly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from studykit import (
    Device,
    batch_ids,
    enroll_request,
    feed,
    make_study,
    post_upload,
    register,
    register_study,
    summaries,
    withdraw_request,
)


def test_two_collectors_share_one_study(postgres_url, collector_factory):
    a, b = collector_factory(postgres_url, name="a"), collector_factory(postgres_url, name="b")
    study = make_study(a.url)
    register_study(postgres_url, study)
    with httpx.Client(base_url=a.url, timeout=30) as via_a, httpx.Client(base_url=b.url, timeout=30) as via_b:
        codes = register(via_a, study, 4)
        devices = [Device.new() for _ in codes]
        enrollments = []
        for n, (code, device) in enumerate(zip(codes, devices)):  # codes made through a, used through either
            answer = enroll_request(via_b if n % 2 else via_a, study, code, device)
            assert answer.status_code == 201
            enrollments.append(answer.json()["enrollment_id"])
        assert enroll_request(via_a, study, codes[1], Device.new()).status_code == 409  # used through b

        uploads = [study.upload(device, enrollment_id, summaries(2))
                   for device, enrollment_id in zip(devices, enrollments) for _ in range(10)]

        def send_to_both(upload):  # the same batch reaches both processes at once
            with ThreadPoolExecutor(2) as pair:
                answers = list(pair.map(lambda http: post_upload(http, study, upload), (via_a, via_b)))
            return sorted(answer.status_code for answer in answers)

        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(send_to_both, uploads))
        assert outcomes == [[200, 201]] * len(uploads)

        from_a, from_b = feed(via_a, study, limit=7)[0], feed(via_b, study, limit=13)[0]
        assert from_a == from_b
        assert sorted(batch_ids(from_a)) == sorted(u.context.batch_id for u in uploads)

        leaving_device, leaving = devices[0], enrollments[0]
        assert withdraw_request(via_a, study, leaving_device, leaving).json() == {"deleted_batches": 10}
        late = study.upload(leaving_device, leaving, summaries(1))
        assert post_upload(via_b, study, late).status_code == 403
        items = feed(via_b, study)[0]
        assert len(batch_ids(items)) == 30
        assert all(i["upload"]["enrollment_id"] != leaving for i in items if i["kind"] == "batch")
        assert [i for i in items if i["kind"] == "tombstone"] == [
            {"kind": "tombstone", "enrollment_id": leaving, "withdrawn": items[-1]["withdrawn"]}]

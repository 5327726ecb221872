"""The collector's HTTP API (docs/protocol.md) against real uvicorn processes, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest

from ime_collector import __version__
from ime_wire import joincode
from ime_wire.envelope import MAX_UPLOAD_BYTES, Upload
from studykit import (
    Device,
    batch_ids,
    enroll,
    enroll_request,
    feed,
    make_study,
    post_upload,
    register,
    register_study,
    summaries,
    withdraw_request,
)


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    document = response.json()
    assert document["status"] == status and document["type"] == "about:blank"
    assert document["title"] and document["detail"]
    return document


def test_healthz_says_ok_with_version_and_storage(http, served):
    answer = http.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": __version__,
                             "storage": "sqlite" if served[0].startswith("sqlite") else "postgresql"}
    assert "server" not in answer.headers


def test_the_manifest_is_served_byte_for_byte(http, study):
    answer = http.get(f"{study.path}/manifest")
    assert answer.status_code == 200 and answer.content == study.manifest_bytes
    assert "no such study" in problem(http.get(f"/v1/studies/{secrets.token_hex(16)}/manifest"), 404)["detail"]


def test_unknown_endpoints_and_methods_answer_with_problems(http, study):
    problem(http.get("/v2/anything"), 404)
    problem(http.get(f"{study.path}/batches"), 405)


def test_invites_need_the_study_signature(http, study):
    codes, body = study.codes(3)
    target = f"{study.path}/invites"
    problem(http.put(target, content=body), 403)
    impostor = make_study(signing_key=None)
    forged = {**impostor.sign("PUT", target, body), "Ime-Key": study.study_id}
    problem(http.put(target, content=body, headers=forged), 403)
    stale = study.sign("PUT", target, body, now=time.time() - 3600)
    assert "clock" in problem(http.put(target, content=body, headers=stale), 403)["detail"]
    assert http.put(target, content=body, headers=study.sign("PUT", target, body)).json() == {"registered": 3, "already": 0}
    assert http.put(target, content=body, headers=study.sign("PUT", target, body)).json() == {"registered": 0, "already": 3}


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"codes": []}', b'{"codes": [{"hash": "x", "expires": "2030-01-01T00:00:00Z"}]}',
                                  b'{"codes": [{"hash": "' + b"a" * 64 + b'", "expires": "soon"}]}'])
def test_malformed_invites_are_400(http, study, body):
    target = f"{study.path}/invites"
    problem(http.put(target, content=body, headers=study.sign("PUT", target, body)), 400)


def test_a_join_code_enrolls_once_and_a_retry_gets_the_same_id(http, study):
    code = register(http, study)[0]
    device = Device.new()
    first = enroll_request(http, study, code, device)
    assert first.status_code == 201
    enrollment_id = first.json()["enrollment_id"]
    assert len(enrollment_id) == 32
    again = enroll_request(http, study, code.lower().replace("-", " "), device)  # retyped, same code
    assert again.status_code == 200 and again.json() == {"enrollment_id": enrollment_id}
    assert "already been used" in problem(enroll_request(http, study, code, Device.new()), 409)["detail"]


def test_unknown_expired_or_unsigned_enrollments_are_refused(http, study):
    problem(enroll_request(http, study, joincode.new_code(), Device.new()), 403)
    expired = register(http, study, expires=datetime.now(UTC) - timedelta(minutes=1))[0]
    assert "expired" in problem(enroll_request(http, study, expired, Device.new()), 403)["detail"]
    code = register(http, study)[0]
    device, other = Device.new(), Device.new()
    body = json.dumps({"code": code, "device_key": device.public}).encode()
    target = f"{study.path}/enrollments"
    problem(http.post(target, content=body, headers=other.sign("new", "POST", target, body)), 403)
    problem(http.post(target, content=b"{oops", headers=device.sign("new", "POST", target, b"{oops")), 400)
    bad_code = json.dumps({"code": "not a code", "device_key": device.public}).encode()
    problem(http.post(target, content=bad_code, headers=device.sign("new", "POST", target, bad_code)), 400)
    # the code was not spent by any of that
    assert enroll_request(http, study, code, device).status_code == 201


def test_a_study_that_has_ended_takes_no_one(http, served):
    today = datetime.now(UTC).date()
    ended = make_study(served[1].url, starts=today - timedelta(days=30), ends=today - timedelta(days=1))
    from ime_collector.storage import open_storage  # noqa: PLC0415
    storage = open_storage(served[0])  # add-study refuses an ended study; it may end after registration
    storage.add_study(ended.study_id, ended.manifest_bytes, 30, today.isoformat())
    storage.close()
    code = register(http, ended)[0]
    assert "ended" in problem(enroll_request(http, ended, code, Device.new()), 403)["detail"]


def test_a_batch_is_stored_once_and_opens_only_with_the_study_key(http, study):
    device = Device.new()
    enrollment_id = enroll(http, study, device)
    upload = study.upload(device, enrollment_id, summaries(5))
    first = post_upload(http, study, upload)
    assert first.status_code == 201 and first.json() == {"batch_id": upload.context.batch_id, "stored": True}
    replay = post_upload(http, study, upload)
    assert replay.status_code == 200 and replay.json() == {"batch_id": upload.context.batch_id, "duplicate": True}
    other_bytes = study.upload(device, enrollment_id, summaries(2), batch_id=upload.context.batch_id)
    assert "batch id" in problem(post_upload(http, study, other_bytes), 409)["detail"]

    items, _ = feed(http, study)
    assert batch_ids(items) == [upload.context.batch_id]
    item = items[0]
    assert item["device_key"] == device.public
    assert item["received"] == datetime.now(UTC).date().isoformat()
    assert study.open(Upload.from_dict(item["upload"])) == study.open(upload)


def test_uploads_not_signed_by_the_enrolled_device_are_refused(http, study):
    device = Device.new()
    enrollment_id = enroll(http, study, device)
    forged = study.upload(Device.new(), enrollment_id, summaries(1))
    assert "signature" in problem(post_upload(http, study, forged), 403)["detail"]
    problem(post_upload(http, study, study.upload(device, secrets.token_hex(16), summaries(1))), 403)
    other = make_study(study.manifest.collector_url)
    register_elsewhere = other.upload(device, enrollment_id, summaries(1))
    problem(http.post(f"{study.path}/batches", content=register_elsewhere.to_json()), 403)
    wrong_key = Upload(study.upload(device, enrollment_id, summaries(1)).context.__class__(
        study.study_id, enrollment_id, secrets.token_hex(16), "0" * 16), b"x" * 64, b"y" * 64)
    problem(post_upload(http, study, wrong_key), 403)
    items, _ = feed(http, study)
    assert items == []


def test_oversized_and_malformed_bodies_are_refused(http, study):
    target = f"{study.path}/batches"
    assert "KiB" in problem(http.post(target, content=b"x" * (MAX_UPLOAD_BYTES + 1)), 413)["detail"]

    def chunks():  # no Content-Length: the limit holds while reading
        for _ in range(MAX_UPLOAD_BYTES // 65536 + 2):
            yield b"x" * 65536

    problem(http.post(target, content=chunks()), 413)
    problem(http.post(target, content=b"{this is not json"), 400)
    problem(http.post(target, content=b'{"study_id": 1}'), 400)
    assert http.get("/healthz").status_code == 200


def test_withdrawal_deletes_the_batches_and_leaves_a_tombstone(http, study):
    leaving, staying = Device.new(), Device.new()
    leaving_id, staying_id = enroll(http, study, leaving), enroll(http, study, staying)
    for _ in range(3):
        assert post_upload(http, study, study.upload(leaving, leaving_id, summaries(2))).status_code == 201
    kept = study.upload(staying, staying_id, summaries(2))
    post_upload(http, study, kept)

    problem(withdraw_request(http, study, Device.new(), leaving_id), 403)  # only the device itself
    answer = withdraw_request(http, study, leaving, leaving_id)
    assert answer.status_code == 200 and answer.json() == {"deleted_batches": 3}
    again = withdraw_request(http, study, leaving, leaving_id)
    assert again.status_code == 200 and again.json() == {"deleted_batches": 0}

    items, _ = feed(http, study)
    assert batch_ids(items) == [kept.context.batch_id]
    assert items[-1] == {"kind": "tombstone", "enrollment_id": leaving_id,
                         "withdrawn": datetime.now(UTC).date().isoformat()}
    assert "left the study" in problem(post_upload(http, study, study.upload(leaving, leaving_id, summaries(1))), 403)["detail"]


def test_the_feed_follows_its_cursor_across_pages(http, study):
    device = Device.new()
    enrollment_id = enroll(http, study, device)
    sent = []
    for _ in range(25):
        upload = study.upload(device, enrollment_id, summaries(1))
        post_upload(http, study, upload)
        sent.append(upload.context.batch_id)
    target = f"{study.path}/items?limit=10"
    page = http.get(target, headers=study.sign("GET", target)).json()
    assert len(page["items"]) == 10 and page["more"] is True
    items, cursor = feed(http, study, limit=10)
    assert batch_ids(items) == sent
    assert feed(http, study, after=cursor) == ([], cursor)
    late = study.upload(device, enrollment_id, summaries(1))
    post_upload(http, study, late)
    assert batch_ids(feed(http, study, after=cursor)[0]) == [late.context.batch_id]

    for bad in ("?after=nonsense", "?limit=0", "?limit=many"):
        problem(http.get(f"{study.path}/items{bad}", headers=study.sign("GET", f"{study.path}/items{bad}")), 400)
    problem(http.get(target), 403)
    problem(http.get(target, headers=make_study().sign("GET", target)), 403)


def test_a_manifest_from_another_signer_for_a_registered_study_is_refused(served, study):
    from ime_collector.errors import StudyConflict  # noqa: PLC0415
    copy = make_study(served[1].url, study_id=study.study_id)
    with pytest.raises(StudyConflict):
        register_study(served[0], copy)
    register_study(served[0], study)  # the same file again is fine

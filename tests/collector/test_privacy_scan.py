"""Nothing readable on the server: the database, its files and the logs hold no slot value, no typed
text and no address; only ciphertext and random ids."""

from __future__ import annotations

import httpx

from studykit import SECRET_VALUES, TYPED_TEXT, Device, enroll, feed, make_study, post_upload, register_study, summaries
from studykit import withdraw_request


def _scan(blobs: dict[str, bytes], needles) -> list[str]:
    return [f"{needle!r} in {name}" for name, blob in blobs.items() for needle in needles
            if needle.encode() in blob]


def test_the_collector_keeps_nothing_readable(db_url, collector_factory, tmp_path, request):
    collector = collector_factory(db_url)
    study = make_study("https://collector.example.org")  # the manifest names no local address
    register_study(db_url, study)
    with httpx.Client(base_url=collector.url, timeout=10) as http:
        devices = [Device.new() for _ in range(3)]
        enrollments = [enroll(http, study, device) for device in devices]
        batches = [study.upload(device, enrollment_id, summaries(30))
                   for device, enrollment_id in zip(devices, enrollments) for _ in range(4)]
        for upload in batches:
            assert post_upload(http, study, upload).status_code == 201
        withdraw_request(http, study, devices[0], enrollments[0])
        assert len(feed(http, study)[0]) == 9
    collector.stop()

    if db_url.startswith("sqlite"):
        database = {p.name: p.read_bytes() for p in tmp_path.glob("collector.db*")}
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        database = {"pg_dump": cluster.dump(request.getfixturevalue("postgres_database")),
                    "postgresql.log": cluster.log.read_bytes()}
    logs = {"collector.log": collector.log().encode()}
    kept = batches[-1]

    # The scan reads what is stored: random ids and the sealed bytes are there ...
    assert _scan(database, [kept.context.batch_id, enrollments[1], devices[1].public])
    # ... and no value of a summary, no typed text, no address, no client name anywhere.
    assert _scan({**database, **logs}, [*SECRET_VALUES, *TYPED_TEXT, "python-httpx"]) == []
    assert _scan(database, ["127.0.0.1", "localhost"]) == []
    assert not any(marker in collector.log() for marker in ('"POST /v1', '"GET /v1', "HTTP/1.1\" 201"))

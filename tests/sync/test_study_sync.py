"""Joining a study, previewing, syncing and leaving, against real collector processes.

The collector runs as a real uvicorn process on SQLite or PostgreSQL; the participant
uses the real ``ime-agent`` commands; what arrives is read back the way the researcher
reads it (the study-signed feed) and opened with the study's key.
"""

from __future__ import annotations

import hashlib
import json

import httpx

from conftest import SESSIONS_DIR
from ime_wire.envelope import batch_plaintext
from studykit import feed, make_study, register, register_study

SESSIONS = sorted(p for p in SESSIONS_DIR.glob("session-0[0-2]*.jsonl") if not p.name.endswith(".expected.jsonl"))


def new_study(served, tmp_path, **fields):
    url, process = served
    study = make_study(process.url, **fields)
    register_study(url, study)
    path = tmp_path / "study.json"
    path.write_bytes(study.manifest_bytes)
    with httpx.Client(base_url=process.url, timeout=10) as http:
        codes = register(http, study, 3)
    return study, path, codes


def arrived(served, study) -> list:
    """Every summary the collector holds for the study, opened with the study key; and the batches."""
    from ime_wire.envelope import Upload

    with httpx.Client(base_url=served[1].url, timeout=10) as http:
        items, _cursor = feed(http, study)
    uploads = [Upload.from_dict(item["upload"]) for item in items if item["kind"] == "batch"]
    return [s for upload in uploads for s in study.open(upload)], uploads, items


def test_join_preview_sync_and_leave(served, tmp_path, agent):
    study, manifest, codes = new_study(served, tmp_path)
    agent("consent", "grant", "--all", "--yes")
    out = agent("study", "join", str(manifest), "--code", codes[0], "--yes", "--category", "purchase",
                "--category", "travel", "--category", "health").output
    assert "joined" in out and study.manifest.fingerprint in out
    agent("ingest", *map(str, SESSIONS))
    status = json.loads(agent("study", "status", "--json").output)
    assert status["study_id"] == study.study_id and status["sent"] == 0 and status["pending"] > 0
    preview = json.loads(agent("study", "preview", "--json").output)
    assert preview["summaries"] and not preview["frozen"] and preview["sha256"]

    out = agent("sync").output
    assert f"sent {status['pending']} summaries" in out
    after = json.loads(agent("study", "status", "--json").output)
    assert after["pending"] == 0 and after["sent"] == status["pending"] and after["last_sync"]

    got, uploads, _items = arrived(served, study)
    # The first upload is exactly what the preview showed, to the byte (same SHA-256); every summary
    # arrived, each once.
    opened = {hashlib.sha256(batch_plaintext(study.open(u))).hexdigest(): study.open(u) for u in uploads}
    assert [s.to_wire() for s in opened[preview["sha256"]]] == preview["summaries"]
    assert len(got) == len({s.id for s in got}) == status["pending"]
    assert "nothing" in agent("sync").output or "sent 0" in agent("sync").output

    out = agent("study", "leave", "--yes").output
    assert "deleted what it held" in out
    got, uploads, items = arrived(served, study)
    assert got == [] and any(i["kind"] == "tombstone" and i["enrollment_id"] == status["enrollment_id"]
                             for i in items)
    assert "in no study" in agent("study", "status").output


def test_review_hold_keeps_summaries_on_the_device_and_forget_means_never_sent(served, tmp_path, agent):
    study, manifest, codes = new_study(served, tmp_path, review_hold_seconds=3600)
    agent("consent", "grant", "--all", "--yes")
    agent("study", "join", str(manifest), "--code", codes[0], "--yes")
    agent("ingest", *map(str, SESSIONS))
    preview = json.loads(agent("study", "preview", "--json").output)
    assert preview["summaries"] == [] and preview["held"]
    assert "sent 0 summaries" in agent("sync").output
    agent("forget", "--all")
    assert json.loads(agent("study", "status", "--json").output)["pending"] == 0
    assert arrived(served, study)[0] == []


def test_only_the_study_categories_and_slots_leave(served, tmp_path, agent):
    study, manifest, codes = new_study(served, tmp_path, categories=("purchase", "travel"), slots=("product",))
    agent("consent", "grant", "--all", "--yes")
    agent("study", "join", str(manifest), "--code", codes[0], "--yes")  # health not asked for
    agent("ingest", *map(str, SESSIONS))
    agent("sync")
    got = arrived(served, study)[0]
    assert got and {s.intent for s in got} <= {"purchase", "travel"}
    assert all(set(s.slots) <= {"product"} for s in got)
    assert all(not s.slots for s in got if s.intent == "travel")


def test_refused_manifests_and_codes_leave_the_profile_free(served, tmp_path, agent):
    from datetime import UTC, datetime, timedelta

    study, manifest, codes = new_study(served, tmp_path)
    agent("consent", "grant", "--yes")
    data = manifest.read_bytes()
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(data.replace(b"Example Lab", b"Exbmple Lab"))
    expired = tmp_path / "expired.json"
    today = datetime.now(UTC).date()
    expired.write_bytes(make_study(served[1].url, starts=today - timedelta(days=30),
                                   ends=today - timedelta(days=1)).manifest_bytes)
    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps({"manifest": json.loads(data)["manifest"]}))
    for path, words in ((tampered, "changed after signing"), (expired, "ended on"), (unsigned, "not signed")):
        result = agent("study", "join", str(path), "--code", codes[0], "--yes", ok=False)
        assert result.exit_code == 1 and words in result.output and "Traceback" not in result.output
    assert "in no study" in agent("study", "status").output
    # The code was never used: it still works. Used once, it is refused to another device.
    agent("study", "join", str(manifest), "--code", codes[0], "--yes")
    agent("consent", "grant", "--yes", profile="p2")
    replay = agent("study", "join", str(manifest), "--code", codes[0], "--yes", profile="p2", ok=False)
    assert replay.exit_code == 1 and "409" in replay.output
    assert "in no study" in agent("study", "status", profile="p2").output


def test_join_needs_local_consent_and_names_health(served, tmp_path, agent):
    study, manifest, codes = new_study(served, tmp_path)
    result = agent("study", "join", str(manifest), "--code", codes[0], "--yes", ok=False)
    assert "consent" in result.output
    agent("consent", "grant", "--yes")  # purchase and travel
    result = agent("study", "join", str(manifest), "--code", codes[0], "--yes", "--category", "health", ok=False)
    assert "not consented to health" in result.output
    agent("study", "join", str(manifest), "--code", codes[0], "--yes")
    assert json.loads(agent("study", "status", "--json").output)["categories"] == ["purchase", "travel"]


def test_unreachable_collector_is_one_line_and_nothing_is_lost(served, tmp_path, agent):
    study, manifest, codes = new_study(served, tmp_path)
    agent("consent", "grant", "--all", "--yes")
    agent("study", "join", str(manifest), "--code", codes[0], "--yes")
    agent("ingest", *map(str, SESSIONS))
    pending = json.loads(agent("study", "status", "--json").output)["pending"]
    served[1].stop()
    result = agent("sync", ok=False)
    assert result.exit_code == 1 and "cannot reach the collector" in result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert json.loads(agent("study", "status", "--json").output)["pending"] == pending


def test_a_manifest_path_that_is_no_manifest_gets_one_line(tmp_path, agent):
    from pathlib import Path

    agent("consent", "grant", "--yes")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (300 * 1024))
    text = tmp_path / "notes.txt"
    text.write_text("not json at all")
    cases = ((tmp_path / "missing.json", "no such manifest file"), (tmp_path, "not a regular file"),
             (Path("/dev/zero"), "not a regular file"), (big, "over 256 KiB"), (text, "not a JSON study manifest"))
    for path, words in cases:
        result = agent("study", "join", str(path), "--code", "AAAAA-BBBBB-CCCCC", "--yes", ok=False)
        assert result.exit_code == 1 and words in result.output, (path, result.output)
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "in no study" in agent("study", "status").output

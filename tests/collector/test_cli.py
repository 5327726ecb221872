"""``ime-collector add-study`` and ``serve`` refusals: one clear line, never a traceback."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from collectors import collector_command
from ime_collector.cli import main
from ime_collector.settings import DB_ENV
from ime_collector.storage import open_storage
from ime_collector.storage.migrations import LATEST, TABLE
from studykit import make_study


def run(*args: str, env: dict | None = None):
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def write(path, data: bytes):
    path.write_bytes(data)
    return str(path)


def test_add_study_registers_a_manifest_once(db_url, tmp_path):
    study = make_study()
    file = write(tmp_path / "study.json", study.manifest_bytes)
    first = run("--db", db_url, "add-study", file)
    assert first.exit_code == 0 and f"registered study {study.study_id}" in first.output
    again = run("--db", db_url, "add-study", file)
    assert again.exit_code == 0 and "already registered with exactly this manifest" in again.output
    rival = make_study(study_id=study.study_id)
    refused = run("--db", db_url, "add-study", write(tmp_path / "rival.json", rival.manifest_bytes))
    assert refused.exit_code == 1 and "already registered with a different manifest" in refused.output
    storage = open_storage(db_url)
    assert storage.study_manifest(study.study_id) == study.manifest_bytes
    storage.close()


def _tampered(data: bytes) -> bytes:
    return data.replace(b"Shopping", b"Shoppinh", 1)  # one byte


def _unsigned(data: bytes) -> bytes:
    document = json.loads(data)
    document["signature"] = ""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _signed_by_another(data: bytes) -> bytes:
    document = json.loads(data)
    document["signature"] = json.loads(make_study().manifest_bytes)["signature"]
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@pytest.mark.parametrize("spoil, message", [
    (_tampered, "changed after signing"),
    (_unsigned, "is not signed"),
    (_signed_by_another, "bad signature"),
    (lambda data: data[:100], "not a JSON study manifest"),
])
def test_add_study_refuses_a_manifest_that_cannot_be_trusted(tmp_path, spoil, message):
    db_url = f"sqlite:///{tmp_path}/collector.db"
    result = run("--db", db_url, "add-study", write(tmp_path / "study.json", spoil(make_study().manifest_bytes)))
    assert result.exit_code == 1 and message in result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_add_study_reads_a_device_or_huge_file_no_further_than_a_manifest(tmp_path):
    db_url = f"sqlite:///{tmp_path}/collector.db"
    huge = write(tmp_path / "huge.json", b" " * (300 * 1024))
    for file, message in (("/dev/zero", "not a regular file"), (huge, "over 256 KiB")):
        result = run("--db", db_url, "add-study", file)
        assert result.exit_code == 1 and message in result.output, result.output
        assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert not (tmp_path / "collector.db").exists()  # refused before the database is opened


def test_add_study_refuses_a_study_that_has_ended(tmp_path):
    today = datetime.now(UTC).date()
    ended = make_study(starts=today - timedelta(days=60), ends=today - timedelta(days=1))
    result = run("--db", f"sqlite:///{tmp_path}/c.db", "add-study", write(tmp_path / "study.json", ended.manifest_bytes))
    assert result.exit_code == 1 and "ended on" in result.output


def test_the_database_comes_from_the_option_else_the_environment(tmp_path):
    study = make_study()
    file = write(tmp_path / "study.json", study.manifest_bytes)
    assert run("add-study", file, env={DB_ENV: f"sqlite:///{tmp_path}/from-env.db"}).exit_code == 0
    assert (tmp_path / "from-env.db").exists()
    bad = run("--db", "mysql://somewhere/db", "add-study", file)
    assert bad.exit_code == 1 and bad.output.startswith("Error: the database URL must start with sqlite:///")
    missing = run("--db", f"sqlite:///{tmp_path}/no/such/dir/c.db", "add-study", file)
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_serve_refuses_a_database_newer_than_the_build(db_url):
    storage = open_storage(db_url)
    with storage._transaction(write=True) as tx:
        tx.run(f"INSERT INTO {TABLE} (level, name, applied) VALUES (?, ?, ?)", LATEST + 1, "future", "2030-01-01")
    storage.close()
    result = subprocess.run([*collector_command(), "--db", db_url, "serve", "--port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: the database is at schema level {LATEST + 1}, newer than this ime-collector knows "
        f"(up to {LATEST}); upgrade ime-collector"]


def test_serve_says_clearly_when_postgresql_cannot_be_reached(tmp_path):
    url = f"postgresql://nobody@/nothing?host={tmp_path}&connect_timeout=2"
    result = subprocess.run([*collector_command(), "--db", url, "serve", "--port", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: cannot connect to PostgreSQL at ") and result.stderr.count("\n") == 1

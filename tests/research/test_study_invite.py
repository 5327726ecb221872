"""``ime-research study invite`` against a real collector process: exactly N codes on stdout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ime_research.settings import PASSPHRASE_ENV
from studykit import Device, enroll_request

BIN = Path(sys.executable).parent
CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$")


def research(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ime-research"), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def collector_cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ime-collector"), "--db", db_url, *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def running_study(tmp_path, collector_factory):
    """A study made with the real commands and registered with a real collector."""
    db_url = f"sqlite:///{tmp_path}/collector.db"
    collector = collector_factory(db_url)
    made = research("study", "create", str(tmp_path / "study"), "--title", "Invented study",
                    "--collector", collector.url)
    assert made.returncode == 0, made.stderr
    added = collector_cli(db_url, "add-study", str(tmp_path / "study" / "study.json"))
    assert added.returncode == 0, added.stderr
    return tmp_path / "study", collector


def test_invite_prints_exactly_n_single_use_codes(running_study):
    directory, collector = running_study
    result = research("study", "invite", str(directory), "-n", "5", "--expires", "3d")
    assert result.returncode == 0, result.stderr
    codes = result.stdout.splitlines()
    assert len(codes) == 5 and len(set(codes)) == 5 and all(CODE.match(c) for c in codes)
    assert result.stdout == "".join(c + "\n" for c in codes)
    assert "registered 5 join code(s)" in result.stderr

    from ime_research.studydir import StudyDir  # noqa: PLC0415
    from studykit import Study  # noqa: PLC0415
    study_dir = StudyDir(directory)
    keys = study_dir.unlock(os.environ[PASSPHRASE_ENV])
    study = Study(keys.signing, keys.hpke, study_dir.manifest, study_dir.manifest_bytes)
    with httpx.Client(base_url=collector.url, timeout=10) as http:
        assert enroll_request(http, study, codes[0], Device.new()).status_code == 201
        assert enroll_request(http, study, codes[0], Device.new()).status_code == 409
        assert enroll_request(http, study, codes[1], Device.new()).status_code == 201


def test_invite_prints_no_code_when_the_collector_cannot_register_them(running_study, tmp_path):
    directory, collector = running_study
    wrong = research("study", "invite", str(directory), "-n", "2", env={PASSPHRASE_ENV: "wrong"})
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert wrong.stderr.startswith("Error: the passphrase does not open")
    collector.stop()
    down = research("study", "invite", str(directory), "-n", "2")
    assert down.returncode == 1 and down.stdout == ""
    assert down.stderr.startswith("Error: cannot reach the collector at http://127.0.0.1:")
    assert "Traceback" not in down.stderr


def test_invite_for_a_study_the_collector_does_not_know(tmp_path, collector_factory):
    collector = collector_factory(f"sqlite:///{tmp_path}/collector.db")
    assert research("study", "create", str(tmp_path / "s"), "--title", "T", "--collector", collector.url).returncode == 0
    result = research("study", "invite", str(tmp_path / "s"), "-n", "1")
    assert result.returncode == 1 and result.stdout == ""
    assert "refused (404)" in result.stderr and "ime-collector add-study" in result.stderr


def test_invite_from_a_directory_that_is_no_study(tmp_path):
    result = research("study", "invite", str(tmp_path), "-n", "1")
    assert result.returncode == 1 and "is not a study directory" in result.stderr

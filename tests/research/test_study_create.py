"""``ime-research study create`` and the study directory it writes."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from ime_research.cli import main
from ime_research.errors import StudyDirError, WrongPassphrase
from ime_research.settings import PASSPHRASE_ENV
from ime_research.studydir import KEYS_FILE, STUDY_FILE, StudyDir
from ime_wire import keys, manifest, vocabulary

COLLECTOR = "https://collector.example.org"


def create(directory, *options: str, env: dict | None = None):
    return CliRunner().invoke(main, ["study", "create", str(directory), "--title", "Plans and purchases",
                                     "--collector", COLLECTOR, *options], env=env)


def test_create_with_the_defaults(tmp_path, passphrase):
    directory = tmp_path / "study"
    result = create(directory)
    assert result.exit_code == 0, result.output
    study = StudyDir(directory)
    m = study.manifest
    assert f"fingerprint (print it on the information sheet): {m.fingerprint}" in result.stdout
    assert m.categories == vocabulary.CATEGORIES
    assert set(m.slots) == {s for c in vocabulary.CATEGORIES for s in vocabulary.SLOTS_FOR[c]}
    assert m.review_hold_seconds == 24 * 3600 and m.collector_retention_days == 30
    today = datetime.now(UTC).date()
    assert m.starts == today.isoformat() and m.ends == (today + timedelta(days=365)).isoformat()
    assert m.collector_url == COLLECTOR and study.dp_budget == 10.0
    assert manifest.load((directory / STUDY_FILE).read_bytes(), now=datetime.now(UTC)) == m
    assert stat.S_IMODE((directory / KEYS_FILE).stat().st_mode) == 0o600
    unlocked = study.unlock(passphrase)
    assert keys.encode_public(unlocked.signing.public_key()) == m.signing_key
    assert keys.key_id(unlocked.hpke.public_key()) == m.key_id
    assert passphrase.encode() not in (directory / KEYS_FILE).read_bytes()


def test_create_with_every_option(tmp_path):
    sheet = tmp_path / "sheet.txt"
    sheet.write_text("Information sheet: an invented study.\n")
    result = create(tmp_path / "study", "--category", "travel", "--category", "health", "--review-hold", "0",
                    "--dp-budget", "2.5", "--organisation", "Example Lab", "--contact", "lab@example.org",
                    "--ethics-ref", "EX-1", "--information", str(sheet), "--retention-days", "7",
                    "--starts", "2030-01-01", "--ends", "2030-06-30")
    assert result.exit_code == 0, result.output
    study = StudyDir(tmp_path / "study")
    m = study.manifest
    assert m.categories == ("travel", "health") and "product" not in m.slots
    assert (m.review_hold_seconds, m.collector_retention_days, m.starts, m.ends) == (0, 7, "2030-01-01", "2030-06-30")
    assert (m.organisation, m.contact, m.ethics_ref) == ("Example Lab", "lab@example.org", "EX-1")
    assert m.information == sheet.read_text() and study.dp_budget == 2.5


def test_create_refuses_a_directory_that_is_not_empty(tmp_path):
    (tmp_path / "study").mkdir()
    (tmp_path / "study" / "notes.txt").write_text("keep me")
    result = create(tmp_path / "study")
    assert result.exit_code == 1 and "already exists and is not empty" in result.output
    assert [p.name for p in (tmp_path / "study").iterdir()] == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert create(tmp_path / "empty").exit_code == 0


@pytest.mark.parametrize("options, message", [
    (["--collector", "http://collector.example.org"], "plain http:// is refused"),
    (["--dp-budget", "0"], "DP budget"),
    (["--ends", "2020-01-01", "--starts", "2021-01-01"], "on or after"),
    (["--review-hold", "a day"], "is not a duration"),
    (["--starts", "next week"], "is not a date"),
])
def test_create_refuses_bad_options_with_one_line(tmp_path, options, message):
    result = create(tmp_path / "study", *options)
    assert result.exit_code in (1, 2) and message in result.output
    assert "Traceback" not in result.output and not (tmp_path / "study").exists()


@pytest.mark.parametrize("content, message", [
    (None, "is not a regular file"),  # /dev/zero: never read whole
    (b"\xff\xfe not utf-8", "is not UTF-8 text"),
    (b"a" * 20_001, "is too long"),
    ("é".encode() * 40_001, "is too long"),  # cut inside a character by the bounded read
])
def test_create_refuses_an_information_file_that_is_not_a_sheet(tmp_path, content, message):
    path = "/dev/zero" if content is None else str(tmp_path / "sheet.txt")
    if content is not None:
        (tmp_path / "sheet.txt").write_bytes(content)
    result = create(tmp_path / "study", "--information", path)
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and not (tmp_path / "study").exists()


def test_create_without_a_passphrase_and_no_terminal_says_how(tmp_path):
    result = create(tmp_path / "study", env={PASSPHRASE_ENV: ""})
    assert result.exit_code == 1 and f"set {PASSPHRASE_ENV}" in result.output


def test_the_sealed_keys_open_only_with_their_passphrase_and_study(tmp_path, passphrase):
    assert create(tmp_path / "a").exit_code == 0 and create(tmp_path / "b").exit_code == 0
    with pytest.raises(WrongPassphrase):
        StudyDir(tmp_path / "a").unlock("not the passphrase")
    (tmp_path / "a" / KEYS_FILE).write_bytes((tmp_path / "b" / KEYS_FILE).read_bytes())  # another study's keys
    with pytest.raises(WrongPassphrase, match="another study"):
        StudyDir(tmp_path / "a").unlock(passphrase)
    (tmp_path / "b" / KEYS_FILE).write_text('{"format": ')  # cut short
    with pytest.raises(StudyDirError, match="damaged"):
        StudyDir(tmp_path / "b").unlock(passphrase)


def test_a_changed_manifest_or_settings_is_noticed(tmp_path):
    assert create(tmp_path / "study").exit_code == 0
    path = tmp_path / "study" / STUDY_FILE
    path.write_bytes(path.read_bytes().replace(b"Plans", b"Plant", 1))
    with pytest.raises(StudyDirError, match="changed after signing"):
        StudyDir(tmp_path / "study").manifest
    (tmp_path / "study" / "settings.json").write_text(json.dumps({"dp_budget": -1}))
    with pytest.raises(StudyDirError, match="dp_budget"):
        StudyDir(tmp_path / "study").dp_budget
    with pytest.raises(StudyDirError, match="not a study directory"):
        StudyDir(tmp_path / "nowhere").manifest


def test_a_study_file_that_became_a_device_or_huge_is_refused_unread(tmp_path):
    assert create(tmp_path / "study").exit_code == 0
    (tmp_path / "study" / STUDY_FILE).unlink()
    (tmp_path / "study" / STUDY_FILE).symlink_to("/dev/zero")
    with pytest.raises(StudyDirError, match="is not a regular file"):
        StudyDir(tmp_path / "study").manifest
    (tmp_path / "study" / "settings.json").write_bytes(b" " * (2 * 2**20))
    with pytest.raises(StudyDirError, match="is over 1 MiB"):
        StudyDir(tmp_path / "study").settings

"""Every data command, errors included, through click's CliRunner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ime_agent import consent
from ime_agent.store import keys
from ime_agent.cli import data, main
from ime_agent.store import Store

ROOT = Path(__file__).resolve().parents[2]

if "ingest" not in main.commands:  # until the lead registers the data commands
    data.register(main)


@pytest.fixture
def run(data_dir):
    runner = CliRunner()

    def invoke(*args, input=None, env=None):
        return runner.invoke(main, ["--data-dir", str(data_dir), *args], input=input, env=env)

    return invoke


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def one_line_error(result, *fragments) -> str:
    assert result.exit_code != 0
    text = result.output.strip()
    assert "\n" not in text and text.startswith("Error: "), text
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, text
    return text


@pytest.fixture
def session(make_session):
    return make_session([
        ("firefox", "Shop - Mozilla Firefox", False, "best 14 inch laptop for programming under 1500"),
        ("keepassxc", "Unlock Database - KeePassXC", True, "hunter2hunter2"),
        ("slack", "Slack", False, "looking for flights to Lisbon in March for two"),
        ("slack", "Slack", False, "ok thanks see you later"),
    ])


# --- consent ----------------------------------------------------------------------------


def test_consent_show_prints_the_text_and_choices(run, data_dir):
    out = ok(run("consent", "show"))
    assert out.startswith(consent.CONSENT_TEXT)
    assert "none yet" in out and not data_dir.exists()  # showing creates nothing
    ok(run("consent", "grant", "--yes"))
    out = ok(run("consent", "show"))
    assert out.startswith(consent.CONSENT_TEXT)
    assert "purchase  yes" in out and "travel    yes" in out and "health    no" in out


def test_grant_asks_unless_yes(run, monkeypatch):
    one_line_error(run("consent", "grant", input="y\n"), "without a terminal", "--yes")  # stdin is no tty
    assert "none yet" in ok(run("consent", "show"))
    monkeypatch.setattr(data, "_interactive", lambda: True)
    out = ok(run("consent", "grant", "--category", "health", input="n\n"))
    assert consent.CONSENT_TEXT in out and "Nothing recorded" in out
    assert "none yet" in ok(run("consent", "show"))
    out = ok(run("consent", "grant", "--category", "health", input="y\n"))
    assert "consent given for health" in out


def test_grant_all_includes_health_and_withdraw_deletes(run, data_dir):
    assert "purchase, travel, health" in ok(run("consent", "grant", "--all", "--yes"))
    with Store.open(data_dir) as store:
        from ime_wire.summary import Summary
        from ime_wire.timebucket import bucket_of

        store.add_summary(Summary("a1" * 16, bucket_of(store.now()), "chat", "en", "health", 0.9, {}, "m"))
    out = ok(run("consent", "withdraw", "--category", "health"))
    assert "consent withdrawn for health; deleted 1 summaries" in out
    assert "health    no" in ok(run("consent", "show"))


def test_consent_errors(run):
    one_line_error(run("consent", "grant", "--category", "food", "--yes"), "unknown category 'food'", "purchase, travel, health")
    one_line_error(run("consent", "withdraw"), "--category C", "--all")
    one_line_error(run("consent", "withdraw", "--category", "food"), "unknown category 'food'")


def test_withdraw_what_was_not_granted(run):
    one_line_error(run("consent", "withdraw", "--all"), "nothing to withdraw", "consent show")  # no profile yet
    ok(run("consent", "grant", "--yes", "--category", "travel"))
    one_line_error(run("consent", "withdraw", "--category", "health"), "nothing to withdraw", "health")
    out = ok(run("consent", "withdraw", "--all"))
    assert "consent withdrawn for travel; deleted 0 summaries" in out
    assert "purchase: consent was not given; nothing to withdraw" in out
    one_line_error(run("consent", "withdraw", "--all"), "nothing to withdraw")


# --- status, pause, resume --------------------------------------------------------------


def test_status_before_and_after_consent(run, data_dir):
    out = ok(run("status"))
    assert str(data_dir) in out and "not running" in out and "none yet" in out
    ok(run("consent", "grant", "--yes"))
    out = ok(run("status"))
    assert "purchase yes, travel yes, health no" in out and "0 kept" in out and "key: file" in out


def test_pause_for_and_resume(run, data_dir):
    ok(run("consent", "grant", "--yes"))
    assert "paused until" in ok(run("pause", "--for", "15m"))
    with Store.open(data_dir) as store:
        state = store.paused_state()
        assert state.paused and state.until is not None
    assert "paused until" in ok(run("status"))
    assert "resumed" in ok(run("resume"))
    assert "until you run `ime-agent resume`" in ok(run("pause"))
    assert "capture:    paused until you resume" in ok(run("status"))


@pytest.mark.parametrize("bad", ["soon", "15", "0m", "-5m", "1.5h", ""])
def test_bad_duration(run, bad):
    one_line_error(run("pause", "--for", bad), "duration", "e.g.")


@pytest.mark.parametrize("bad", ["999999999d", "99999999999h"])
def test_too_long_duration(run, bad):
    one_line_error(run("pause", "--for", bad), "at most 3650d")
    one_line_error(run("summaries", "--since", bad), "bad time")


def test_parse_duration():
    assert data.parse_duration("30s") == 30
    assert data.parse_duration("1h30m") == 5400
    assert data.parse_duration("2d") == 172800


# --- summaries, forget, export ----------------------------------------------------------


def test_ingest_then_summaries_json(run, session):
    ok(run("consent", "grant", "--all", "--yes"))
    out = ok(run("ingest", str(session)))
    assert "segments:   3 " in out and "secure field" in out and "kept:       purchase 1, travel 1, health 0" in out
    rows = [json.loads(line) for line in ok(run("summaries", "--json")).splitlines()]
    assert rows, out
    for row in rows:
        assert {"intent", "slots", "lang", "confidence", "bucket", "app_category"} <= set(row)
        assert "text" not in row and "app" not in row
    travel = ok(run("summaries", "--json", "--category", "travel", "--since", "1h"))
    assert all(json.loads(line)["intent"] == "travel" for line in travel.splitlines())
    assert "bucket (UTC)" in ok(run("summaries"))
    assert ok(run("summaries", "--since", "2999-01-01")) == "no summaries\n"


def test_summary_errors(run):
    one_line_error(run("summaries", "--since", "last tuesday"), "bad time", "2026-11-20")
    one_line_error(run("summaries", "--since", "0001-01-01"), "bad time", "out of range")
    one_line_error(run("summaries", "--since", ""), "bad time")
    one_line_error(run("summaries", "--category", "food"), "unknown category")
    one_line_error(run("summaries", "--category", ""), "unknown category ''")


def test_forget(run, session):
    ok(run("consent", "grant", "--all", "--yes"))
    ok(run("ingest", str(session)))
    assert "deleted 0 summaries" in ok(run("forget", "--since", "2999-01-01"))
    out = ok(run("forget", "--all"))
    assert out.startswith("deleted ") and ok(run("summaries")) == "no summaries\n"
    one_line_error(run("forget"), "--all, --category C or --since T")
    one_line_error(run("forget", "--all", "--category", "travel"), "leave out")
    one_line_error(run("forget", "--category", "food"), "unknown category 'food'")
    one_line_error(run("forget", "--category", ""), "unknown category ''")
    one_line_error(run("forget", "--since", ""), "bad time")
    one_line_error(run("forget", "--since", "2026-13-01"), "bad time")


def test_export(run, session, tmp_path):
    ok(run("consent", "grant", "--all", "--yes"))
    ok(run("ingest", str(session)))
    out_file = tmp_path / "mine.csv"
    assert "exported" in ok(run("export", "--format", "csv", "-o", str(out_file)))
    assert out_file.read_text().startswith("id,bucket,app_category")
    one_line_error(run("export", "--format", "xml", "-o", str(out_file)), "use --format jsonl or --format csv")
    one_line_error(run("export"), "-o FILE")
    one_line_error(run("export", "-o", str(tmp_path / "no-such-dir" / "x.jsonl")), "choose another file")
    one_line_error(run("export", "-o", str(tmp_path)), "choose another file")


# --- ingest -----------------------------------------------------------------------------


def test_ingest_needs_consent(run, session):
    one_line_error(run("ingest", str(session)), "no consent", "ime-agent consent grant")
    ok(run("consent", "grant", "--yes"))
    ok(run("consent", "withdraw", "--all"))
    one_line_error(run("ingest", str(session)), "ime-agent consent grant")


def test_ingest_file_errors(run, tmp_path):
    ok(run("consent", "grant", "--yes"))
    one_line_error(run("ingest", str(tmp_path / "missing.jsonl")), "no such file")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 0, "type": "press", "key": "a"}\nnot json\n')
    one_line_error(run("ingest", str(bad)), "bad.jsonl:2", "not valid JSON")
    one_line_error(run("ingest"), "ime-agent ingest FILE")
    one_line_error(run("ingest", str(tmp_path)), "is a directory")
    (tmp_path / "empty.jsonl").write_text("\n")
    one_line_error(run("ingest", str(tmp_path / "empty.jsonl")), "empty.jsonl: no events")
    (tmp_path / "bad-type.jsonl").write_text('{"t": 0, "type": "scroll"}\n')
    one_line_error(run("ingest", str(tmp_path / "bad-type.jsonl")), "bad-type.jsonl:1", "'type' must be one of")
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00")
    one_line_error(run("ingest", str(tmp_path / "binary.jsonl")), "not UTF-8")


def test_ingest_while_paused(run, session):
    ok(run("consent", "grant", "--yes"))
    ok(run("pause"))
    out = ok(run("ingest", str(session)))
    assert "segments:   0 " in out and "paused         0" not in out


# --- keys -------------------------------------------------------------------------------


def test_wrong_passphrase_and_corrupt_key_file(run, data_dir, monkeypatch):
    monkeypatch.delenv("IME_AGENT_KEY_SOURCE")
    ok(run("consent", "grant", "--yes", env={"IME_AGENT_PASSPHRASE": "a long passphrase"}))
    one_line_error(run("summaries", env={"IME_AGENT_PASSPHRASE": "another one"}), "wrong passphrase",
                   "IME_AGENT_PASSPHRASE")
    one_line_error(run("summaries"), "protected by a passphrase", "IME_AGENT_PASSPHRASE")
    ok(run("status"))  # what needs no key works without it
    ok(run("forget", "--all"))


def test_corrupt_key_file(run, data_dir):
    ok(run("consent", "grant", "--yes"))
    (data_dir / keys.KEY_FILE).write_text("garbage")
    os.chmod(data_dir / keys.KEY_FILE, 0o600)
    one_line_error(run("summaries"), "is corrupt", "restore it")


# --- profiles and demo ------------------------------------------------------------------


def test_testing_profile_is_separate(run, data_dir):
    ok(run("consent", "grant", "--yes", env={"IME_AGENT_PROFILE": "testing"}))
    assert (data_dir.parent / f"{data_dir.name}-testing").is_dir() and not data_dir.exists()
    assert "none yet" in ok(run("status"))
    one_line_error(run("status", env={"IME_AGENT_PROFILE": "../x"}), "bad profile name")


def _count(out: str, reason: str) -> int:
    line = next(line for line in out.splitlines() if line.strip().startswith(reason))
    return int(line.strip()[len(reason):].split()[0])


def test_demo(run, data_dir):
    out = ok(run("demo"))
    assert "consent given for this demo only: purchase, travel (not: health)" in out
    assert "bucket (UTC)" in out and "kept:       purchase " in out
    for reason in ("secure field", "denied app", "no consent", "none"):  # every way to be dropped, shown
        assert _count(out, reason) > 0, out
    assert _count(out, "paused") == 0
    assert "Checked: none of the" in out and "typed texts is on disk" in out
    assert not data_dir.exists()  # the demo never touches the real profile
    out = ok(run("demo", "--category", "purchase", "--category", "travel", "--category", "health"))
    assert _count(out, "no consent") == 0
    one_line_error(run("demo", "--category", "food"), "unknown category")


def test_demo_needs_no_data_dir_and_no_writable_home(tmp_path):
    """As a first-time user would run it: no IME_AGENT_DATA_DIR, HOME not writable, only TMPDIR."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IME_AGENT_", "XDG_"))}
    env.update(HOME=str(tmp_path / "no-such-home"), TMPDIR=str(tmp), IME_AGENT_KEY_SOURCE="file")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "ime_agent", "demo"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "typed texts is on disk" in result.stdout and result.stderr == ""
    assert time.monotonic() - started < 30
    assert not (tmp_path / "no-such-home").exists() and list(tmp.iterdir()) == []


# --- where the data lives ---------------------------------------------------------------


def test_data_dir_errors(run, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    result = CliRunner().invoke(main, ["consent", "grant", "--yes"], env={"IME_AGENT_DATA_DIR": str(a_file)})
    assert result.exit_code != 0 and "Traceback" not in result.output and "is a file" in result.output
    # The data commands themselves (whatever checks the global option does first):
    group = type(main)()
    data.register(group)
    for args in (["status"], ["consent", "show"], ["consent", "grant", "--yes"], ["summaries"], ["pause"],
                 ["forget", "--all"], ["export", "-o", str(tmp_path / "x")]):
        result = CliRunner().invoke(group, args, obj={"data_dir": a_file})
        one_line_error(result, "is a file, not a directory", "--data-dir")


def test_corrupt_database(run, data_dir, session):
    ok(run("consent", "grant", "--all", "--yes"))
    ok(run("ingest", str(session)))
    db = data_dir / "ime-agent.db"
    raw = bytearray(db.read_bytes())
    for offset in range(4096 * 2, len(raw), 4096):  # every page but the header and schema
        raw[offset:offset + 64] = b"\xff" * 64
    db.write_bytes(bytes(raw))
    for args in (["status"], ["summaries"], ["forget", "--all"], ["consent", "withdraw", "--all"]):
        one_line_error(run(*args), "damaged", "move the data dir away")
    db.write_bytes(b"not a database at all" * 100)
    one_line_error(run("status"), "damaged", "move the data dir away")

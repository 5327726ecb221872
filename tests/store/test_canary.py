"""Proof that no typed text persists: unique canary sentences through the whole
pipeline (``ingest``, and the demo's path), then every byte under the data dir,
the config dir and the temp dir is searched for them (UTF-8, UTF-16-LE,
UTF-16-BE), and every log record at DEBUG, from every logger, as records and as
a formatted log file."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

import pytest

from ime_agent import consent
from ime_agent.config import load_config
from ime_agent.ingest import find_texts, ingest, run_demo
from ime_agent.store import Store

LOGGERS = ("", "ime_agent", "classifiers", "spacy", "sqlite_utils", "keyring")

SYSTEM_TMP = Path(tempfile.gettempdir())


def canaries() -> dict[str, str]:
    def tok() -> str:
        return "zq" + secrets.token_hex(6)

    return {
        "consented": f"please buy the {tok()} laptop today",
        "not_consented": f"I should see the doctor about {tok()} soon",
        "secure_field": f"buy {tok()} typed in a password field",
        "secure_title": f"trip {tok()} typed on a sign in page",
        "denied_app": f"a trip {tok()} planned in a terminal",
        "none": f"good morning {tok()} everyone",
    }


def typing(c: dict[str, str]):
    return [
        ("firefox", "Shop - Mozilla Firefox", False, c["consented"]),
        ("slack", "Slack", False, c["not_consented"]),
        ("firefox", "Bank - Mozilla Firefox", True, c["secure_field"]),
        ("firefox", "Sign in - Mozilla Firefox", False, c["secure_title"]),
        ("xterm", "user@host: ~", False, c["denied_app"]),
        ("slack", "Slack", False, c["none"]),
    ]


def needles(c: dict[str, str]) -> list[str]:
    """The sentences, and each one's unique token on its own."""
    return list(c.values()) + [w for text in c.values() for w in text.split() if w.startswith("zq")]


def files_written_since(root: Path, since: float) -> list[Path]:
    recent = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            try:
                st = path.stat()
            except OSError:
                continue
            if st.st_mtime >= since and st.st_size < 50_000_000:
                recent.append(path)
    return recent


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """TMPDIR (and tempfile) point at a fresh dir, so 'the temp directory' is exactly known."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("SQLITE_TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # recomputed from TMPDIR, as a fresh process would
    assert Path(tempfile.gettempdir()) == tmp
    return tmp


@pytest.fixture
def debug_log(caplog, data_dir):
    """DEBUG from every logger, as records (caplog) and as a log file in the data dir."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    path = data_dir / "logs" / "debug.log"
    path.parent.mkdir(parents=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    yield path
    logging.getLogger().removeHandler(handler)
    handler.close()


def config_dir() -> Path:
    return Path(os.environ["IME_AGENT_CONFIG"]).parent  # config.toml and the XDG dirs of this test


def assert_no_canary_in_logs(caplog, c):
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''} {r.stack_info or ''}" for r in caplog.records)
    assert not [text for text in needles(c) if text in logged]


def run_canaries(data_dir, session, classifier, caplog, private_tmp, c):
    started = time.time() - 1
    roots = [data_dir, private_tmp, config_dir()]
    with Store.open(data_dir) as store:
        consent.grant(store, ["purchase", "travel"])  # health deliberately not
        report = ingest(store, [session], load_config(), classifier=classifier)
        kept = store.summaries()
        nones = store.count_of("none")
        assert list(data_dir.glob("*-wal")) and list(data_dir.glob("*-shm")), "scan while WAL and SHM exist"
        assert find_texts(roots, needles(c)) == []
    assert nones == report.not_stored["none"]  # the none segment was counted, and only counted
    assert find_texts(roots, needles(c)) == []
    # Anything written to the system temp dir meanwhile (other than the session itself).
    recent = [p for p in files_written_since(SYSTEM_TMP, started) if p != session]
    assert find_texts(recent, needles(c)) == []
    assert_no_canary_in_logs(caplog, c)
    return report, kept


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """The scanner itself: a canary written in each encoding is found."""
    for enc in ("utf-8", "utf-16-le", "utf-16-be"):
        (tmp_path / enc).write_bytes(b"\x00junk" + "zq canary".encode(enc) + b"junk")
    assert sorted(e for _p, _i, e in find_texts([tmp_path], ["zq canary"])) == ["utf-16-be", "utf-16-le", "utf-8"]


def test_canaries_never_reach_disk_or_logs(data_dir, make_session, fake_classifier, caplog, private_tmp, debug_log):
    c = canaries()
    session = make_session(typing(c))
    report, kept = run_canaries(data_dir, session, fake_classifier, caplog, private_tmp, c)
    assert debug_log.stat().st_size > 0 and caplog.records, "DEBUG logging was really on"
    # Each canary went the way it was written for.
    assert report.stored == {"purchase": 1}
    assert report.not_stored == {"no_consent": 1, "none": 1}
    assert report.dropped_events["secure"] > 0 and report.dropped_events["denied"] > 0
    assert [(s.intent, s.slots) for s in kept] == [("purchase", {"product": "laptop"})]
    assert [p.name for p in sorted(data_dir.iterdir())] == ["ime-agent.db", "key", "logs"]


def test_canaries_with_the_real_classifier(data_dir, make_session, caplog, private_tmp, debug_log):
    c = canaries()
    session = make_session(typing(c))
    report, _kept = run_canaries(data_dir, session, None, caplog, private_tmp, c)
    assert report.segments == 3  # secure field, sign-in page and terminal never became segments


def test_canaries_through_the_demo_path(data_dir, make_session, fake_classifier, caplog, private_tmp, debug_log):
    """``ime-agent demo``'s own path: its temporary profile lives in the (private) temp dir."""
    c = canaries()
    session = make_session(typing(c))
    result = run_demo(load_config(), ["purchase", "travel"], classifier=fake_classifier, sessions=[session], keep=True)
    assert result.profile.parent == private_tmp
    assert result.leaks == [] and result.texts_checked == len(c)  # secure-field text is checked too
    assert result.report.stored == {"purchase": 1} and result.report.not_stored == {"no_consent": 1, "none": 1}
    assert find_texts([private_tmp, data_dir, config_dir()], needles(c)) == []
    assert_no_canary_in_logs(caplog, c)

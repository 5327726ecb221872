"""Every shared recorded session reproduces its expected segments exactly."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from conftest import shared_sessions
from ime_agent.capture import replay_session
from ime_agent.cli import main


def expected(path):
    lines = path.with_name(path.name.replace(".jsonl", ".expected.jsonl")).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("path", shared_sessions(), ids=lambda p: p.stem)
def test_session_reproduces_expected_segments(path):
    got = [{"text": s.text, "app": s.app, "reason": s.reason} for s in replay_session(path).segments]
    assert got == expected(path)


def test_sessions_are_present(sessions_dir):
    assert len(shared_sessions()) >= 40


def test_replay_json_many_files_in_one_call(sessions_dir):
    paths = shared_sessions()
    result = CliRunner().invoke(main, ["replay", "--json", *map(str, paths)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    want = [dict(seg, source=str(path)) for path in paths for seg in expected(path)]
    assert [{k: r[k] for k in ("text", "app", "reason", "source")} for r in records] == want


def test_secure_text_never_in_any_segment(sessions_dir):
    for path in shared_sessions():
        secure_chars: list[str] = []
        focus_secure = False
        for line in path.read_text("utf-8").splitlines():
            event = json.loads(line)
            if event["type"] == "focus":
                focus_secure = event["secure"]
            elif focus_secure and event["type"] == "press" and len(event["key"]) == 1:
                secure_chars.append(event["key"])
        secret = "".join(secure_chars)
        if len(secret) >= 4:
            for segment in replay_session(path).segments:
                assert secret not in segment.text

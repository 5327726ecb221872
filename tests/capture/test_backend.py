from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from ime_agent import capture
from ime_agent.cli import main
from ime_agent.errors import BackendUnavailable


def test_no_display_is_a_one_line_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    result = CliRunner().invoke(main, ["capture", "--print"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: no X display: set DISPLAY (e.g. DISPLAY=:0), or replay a recorded session with `ime-agent replay FILE`"
    ]


def test_unreachable_display_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":9876")
    with pytest.raises(BackendUnavailable, match="cannot open X display ':9876'"):
        capture.backends()


def test_unknown_backend_override(monkeypatch):
    monkeypatch.setenv("IME_AGENT_CAPTURE_BACKEND", "wayland")
    with pytest.raises(BackendUnavailable, match="use one or more of xorg, atspi, win32, darwin"):
        capture.backends()


def test_other_platform_backends_are_never_imported_on_linux():
    code = (
        "import sys, ime_agent.cli, ime_agent.capture as c\n"
        "try: c.backends()\n"
        "except Exception: pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('ime_agent.capture._')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "_win32" not in out and "_darwin" not in out


def test_replay_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 0, "type": "press", "key": "a"}\n{"t": 1, "type": "scroll"}\n')
    result = CliRunner().invoke(main, ["replay", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: {bad}:2: 'type' must be one of press, release, focus, click, text, field, insert, delete, caret; "
        "fix or remove that line (format: docs/key-events.md)"
    )
    result = CliRunner().invoke(main, ["replay", str(tmp_path / "missing.jsonl")])
    assert "no such file" in result.output and result.exit_code == 1

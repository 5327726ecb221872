"""Start at login: real XDG autostart files on Linux; the macOS/Windows entries as content."""

from __future__ import annotations

import plistlib
import subprocess
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from ime_agent import __version__, autostart
from ime_agent.autostart import _launchd, _winreg, _xdg
from ime_agent.cli import agent, main

if "autostart" not in main.commands:  # until the lead registers ime_agent.cli.agent
    agent.register(main)


@pytest.fixture
def xdg_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("IME_AGENT_AUTOSTART_BACKEND", "xdg")
    return tmp_path / "config"


def test_enable_status_disable_on_linux(xdg_home, tmp_path):
    entry = xdg_home / "autostart" / "ime-agent.desktop"
    assert autostart.status() == autostart.Status(False, str(entry), None)

    status = autostart.enable(tmp_path / "profile")
    assert status.enabled and entry.exists()
    assert status.command == [sys.executable, "-m", "ime_agent", "--data-dir", str(tmp_path / "profile"), "run"]
    text = entry.read_text()
    assert "[Desktop Entry]" in text and "Type=Application" in text and "X-GNOME-Autostart-enabled=true" in text

    # The written command really starts this installation (asked for its version instead of `run`).
    command = autostart.status().command
    result = subprocess.run(command[:-1] + ["--version"], capture_output=True, text=True, check=True)
    assert __version__ in result.stdout

    assert autostart.disable().enabled is False
    assert list((xdg_home / "autostart").iterdir()) == []  # every trace removed
    assert autostart.disable().enabled is False  # idempotent


def test_relative_xdg_config_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _xdg.path() == tmp_path / ".config" / "autostart" / "ime-agent.desktop"


def test_cli(xdg_home, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["--data-dir", str(tmp_path / "p"), "autostart", "enable"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("autostart: enabled (") and str(xdg_home) in result.output
    assert runner.invoke(main, ["autostart", "status"]).output.startswith("autostart: enabled")
    result = runner.invoke(main, ["autostart", "disable"])
    assert result.exit_code == 0 and result.output.startswith("autostart: disabled")
    assert runner.invoke(main, ["autostart", "status"]).output.startswith("autostart: disabled")


def test_unknown_backend_is_a_friendly_error(monkeypatch):
    monkeypatch.setenv("IME_AGENT_AUTOSTART_BACKEND", "upstart")
    result = CliRunner().invoke(main, ["autostart", "status"])
    assert result.exit_code == 1 and "error: unknown autostart backend 'upstart'" in result.output.lower()


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t\\\"$`%"),
                        max_size=12), min_size=1, max_size=5))
def test_exec_line_round_trips(argv):
    line = _xdg.exec_line(argv)
    assert "\n" not in line
    assert _xdg.parse_exec(line) == argv


def test_exec_line_quotes_as_the_spec_says():
    assert _xdg.exec_line(["/usr/bin/ime-agent", "run"]) == "/usr/bin/ime-agent run"
    assert _xdg.exec_line(["/opt/my apps/ime-agent", "--data-dir", "/home/a$b"]) == \
        '"/opt/my apps/ime-agent" --data-dir "/home/a\\\\$b"'


def test_launch_agent_plist_content():
    data = plistlib.loads(_launchd.plist_content(["/Applications/ime-agent.app/Contents/MacOS/ime-agent", "run"]))
    assert data == {
        "Label": "org.ime-agent.agent",
        "ProgramArguments": ["/Applications/ime-agent.app/Contents/MacOS/ime-agent", "run"],
        "RunAtLoad": True, "KeepAlive": False, "ProcessType": "Interactive", "LimitLoadToSessionType": "Aqua",
    }


def test_launch_agent_files(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(_launchd.subprocess, "run", lambda *a, **k: None)  # no launchctl off macOS
    plist = tmp_path / "Library" / "LaunchAgents" / "org.ime-agent.agent.plist"
    assert _launchd.enable(["/x/ime-agent", "run"]) == autostart.Status(True, str(plist), ["/x/ime-agent", "run"])
    assert _launchd.disable().enabled is False and not plist.exists()


def test_windows_run_value():
    assert _winreg.run_value([r"C:\Program Files\ime-agent\ime-agent.exe", "run"]) == \
        r'"C:\Program Files\ime-agent\ime-agent.exe" run'
    assert _winreg.LOCATION == r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run\ime-agent"


def test_only_this_systems_module_is_imported():
    code = ("import sys; from ime_agent import autostart; autostart.status(); "
            "print(sorted(m for m in sys.modules if m.startswith('ime_agent.autostart.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ime_agent.autostart._xdg']"

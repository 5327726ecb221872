"""The Linux PyInstaller bundle builds and runs (slow: a few minutes; CI runs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ime_agent import __version__
from xserver import REQUIRED

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "linux" / "ime-agent.spec"

pytestmark = pytest.mark.slow


def test_packaging_files_are_well_formed():
    import configparser
    import plistlib

    desktop = configparser.ConfigParser(interpolation=None)
    desktop.read(ROOT / "packaging" / "linux" / "ime-agent.desktop")
    assert desktop["Desktop Entry"]["Exec"] == "ime-agent run"
    unit = (ROOT / "packaging" / "linux" / "ime-agent.service").read_text()
    assert "ExecStart=/opt/ime-agent/ime-agent run" in unit and "WantedBy=graphical-session.target" in unit
    info = plistlib.loads((ROOT / "packaging" / "macos" / "Info.plist").read_bytes())
    assert info["CFBundleShortVersionString"] == __version__
    assert {"NSInputMonitoringUsageDescription", "NSAccessibilityUsageDescription"} <= set(info)
    iss = (ROOT / "packaging" / "windows" / "ime-agent.iss").read_text()
    assert 'Name: "startatlogin"' in iss and "Flags: unchecked" in iss
    assert f'#define AppVersion "{__version__}"' in iss
    for system, backend in (("linux", "pystray._xorg"), ("macos", "pystray._darwin"), ("windows", "pystray._win32")):
        spec = (ROOT / "packaging" / system / "ime-agent.spec").read_text()
        assert backend in spec and "pynput.keyboard._" in spec and "classifiers/models" in spec


def test_linux_bundle_builds_and_runs(tmp_path):
    pyinstaller = shutil.which("pyinstaller", path=str(Path(sys.executable).parent))
    if pyinstaller is None:
        message = "pyinstaller is not installed: pip install -e '.[dev]'"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    started = time.monotonic()
    build = subprocess.run(
        [pyinstaller, "--noconfirm", "--log-level", "WARN", "--distpath", str(tmp_path / "dist"),
         "--workpath", str(tmp_path / "work"), str(SPEC)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stderr[-4000:]
    print(f"PyInstaller build took {time.monotonic() - started:.0f}s")
    bundle = tmp_path / "dist" / "ime-agent"

    version = subprocess.run([str(bundle / "ime-agent"), "--version"], capture_output=True, text=True, timeout=120)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"ime-agent, version {__version__}"

    # The bundled spaCy models load and classify (the part static analysis cannot see).
    classify = subprocess.run([str(bundle / "ime-agent"), "classify", "--json", "cheap flights to hanoi in may"],
                              capture_output=True, text=True, timeout=300)
    assert classify.returncode == 0, classify.stderr[-4000:]
    assert json.loads(classify.stdout.splitlines()[0])["intent"] == "travel"

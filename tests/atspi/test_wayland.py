"""Wayland: a native Wayland GTK3 app under weston, captured by the accessibility source alone.

weston 10's headless backend has no seat (no keyboard: a window there never gets
focus, so no field is ever focused); its X11 backend, nested in Xvfb, has one,
fed by xdotool typing into weston's window. The app gets no DISPLAY (it can only
be a Wayland client) and neither does the capture: no keyboard hook runs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from a11ybus import HERE, REQUIRED, LineReader, desktop
from xserver import wait_until

pytestmark = pytest.mark.x11

SECRET = "zebra-canary-7731"


def test_native_wayland_app_through_the_accessibility_source_alone():
    if shutil.which("weston") is None:
        message = "missing weston (scripts/setup-system)"
        pytest.fail(message) if REQUIRED else pytest.skip(message)
    with desktop() as d:
        d.spawn_group("weston", "--backend=x11-backend.so", "--width=800", "--height=600",
                               "--socket=wayland-test", "--idle-time=0",
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        socket = Path(d.env["XDG_RUNTIME_DIR"]) / "wayland-test"
        wait_until(socket.exists, 20, 0.05, "weston's socket")
        window = wait_until(lambda: d.x.run("xdotool", "search", "--class", "weston", check=False).stdout.split(),
                            20, 0.05, "weston's window")[0]
        wayland = {k: v for k, v in d.env.items() if k != "DISPLAY"}
        wayland.update(WAYLAND_DISPLAY="wayland-test", GDK_BACKEND="wayland")
        capture = d.spawn_group(sys.executable, str(HERE / "atspi" / "capture_driver.py"), "--no-keys",
                                env=dict(wayland, IME_AGENT_CONFIG=os.devnull, PYTHONUNBUFFERED="1"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = LineReader(capture.stdout), LineReader(capture.stderr)
        err.wait_for(lambda line: line == "capturing", 20, "capture to start")
        d.x.activate(window)  # the X server's keyboard goes to weston, weston's to its focused window

        notes = d.gtk_window("Notes", env=wayland)
        assert notes.window_id == "0x0"  # no X window: a Wayland surface
        err.wait_for(lambda line: line == "field: gtk_field.py [text] text", what="the Wayland entry")
        notes.command("commit 国庆去大理")
        d.x.xdotool("type", "--delay", "20", " ok")
        wait_until(lambda: (notes.command("count"), notes.out.lines[-1])[1] == "done count 8", 10, 0.05,
                   "the typed keys to reach the entry")

        d.gtk_window("Notes", "--password", env=wayland)
        err.wait_for(lambda line: line == "field: gtk_field.py [password text] secure", what="password field")
        d.x.xdotool("type", "--delay", "20", SECRET)
        capture.send_signal(signal.SIGTERM)
        assert capture.wait(timeout=10) == 0
        out.rest()
        err.rest()
    segments = [(s["text"], s["app"], s["reason"]) for s in map(json.loads, out.lines)]
    assert segments == [("国庆去大理 ok", "gtk_field.py", "focus")]
    assert SECRET not in "\n".join(out.lines + err.lines)

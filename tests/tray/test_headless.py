"""Everything imports with no display: pystray and tkinter load only when a window is made."""

from __future__ import annotations

import os
import subprocess
import sys


def test_modules_import_without_a_display():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    code = ("import sys, ime_agent.ui.tray, ime_agent.ui.icons, ime_agent.ui.consent_window, ime_agent.ui.review_window, "
            "ime_agent.instance, ime_agent.autostart, ime_agent.cli.agent; "
            "print(sorted(m for m in ('pystray', 'tkinter') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

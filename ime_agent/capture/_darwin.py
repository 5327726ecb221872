"""Live capture on macOS: pynput listeners and a frontmost-app probe.

Focus is the frontmost application's bundle id (``org.mozilla.firefox``) and
its front window's title; input is secure while ``IsSecureEventInputEnabled()``
is true, which macOS sets for every password field and for apps that ask for
secure input (Terminal's "Secure Keyboard Entry", password managers). pynput
needs the Input Monitoring permission (see packaging/macos/README.md).
Imported only on macOS.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import time

from ime_agent.capture._pynput import PynputSource
from ime_agent.errors import BackendUnavailable

NAME = "darwin"
KNOWS_SECURE_FIELDS = True  # the system-wide secure input mode


def check() -> None:
    if sys.platform != "darwin":
        raise BackendUnavailable("the darwin capture backend runs only on macOS")
    try:
        import AppKit  # noqa: F401  (pyobjc-framework-Cocoa)
        import Quartz  # noqa: F401  (pyobjc-framework-Quartz)
    except ImportError:
        raise BackendUnavailable(
            "pyobjc is missing: pip install pyobjc-framework-Cocoa pyobjc-framework-Quartz"
        ) from None


def _secure_input_probe():
    carbon = ctypes.cdll.LoadLibrary(ctypes.util.find_library("Carbon"))
    carbon.IsSecureEventInputEnabled.restype = ctypes.c_bool
    return carbon.IsSecureEventInputEnabled


def _focus_probe():
    import AppKit
    import Quartz

    is_secure = _secure_input_probe()
    workspace = AppKit.NSWorkspace.sharedWorkspace()

    def probe():
        app = workspace.frontmostApplication()
        if app is None:
            return None, "", bool(is_secure())
        pid = app.processIdentifier()
        title = ""
        windows = Quartz.CGWindowListCopyWindowInfo(
            Quartz.kCGWindowListOptionOnScreenOnly | Quartz.kCGWindowListExcludeDesktopElements,
            Quartz.kCGNullWindowID,
        ) or []
        for window in windows:  # front to back: the first of this app is its front window
            if window.get("kCGWindowOwnerPID") == pid and window.get("kCGWindowLayer") == 0:
                title = window.get("kCGWindowName") or ""
                break
        bundle = app.bundleIdentifier() or app.localizedName() or None
        return (bundle.lower() if bundle else None), title, bool(is_secure())

    return probe


def source(clock=time.monotonic) -> PynputSource:
    probe = _focus_probe()
    return PynputSource(NAME, probe, knows_secure_fields=KNOWS_SECURE_FIELDS, clock=clock)

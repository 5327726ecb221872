"""Live capture on Windows: pynput listeners and a foreground-window probe.

Focus is the foreground window's process image name (``firefox``, ``code``) and
title; a field is secure when the focused control is an edit box with
``ES_PASSWORD`` (classic Win32 controls; browsers and UWP apps draw their own
fields and report no such style, so titles are checked by the guards as well).
Imported only on Windows.
"""

from __future__ import annotations

import ctypes
import sys
import time
from ctypes import wintypes
from pathlib import PureWindowsPath

from ime_agent.capture._pynput import PynputSource
from ime_agent.errors import BackendUnavailable

NAME = "win32"
KNOWS_SECURE_FIELDS = True  # edit boxes with ES_PASSWORD

GWL_STYLE = -16
ES_PASSWORD = 0x0020
PROCESS_QUERY_LIMITED_INFORMATION = 0x1000


class _GUITHREADINFO(ctypes.Structure):
    _fields_ = [
        ("cbSize", wintypes.DWORD), ("flags", wintypes.DWORD), ("hwndActive", wintypes.HWND),
        ("hwndFocus", wintypes.HWND), ("hwndCapture", wintypes.HWND), ("hwndMenuOwner", wintypes.HWND),
        ("hwndMoveSize", wintypes.HWND), ("hwndCaret", wintypes.HWND), ("rcCaret", wintypes.RECT),
    ]


def check() -> None:
    if sys.platform != "win32":
        raise BackendUnavailable("the win32 capture backend runs only on Windows")


def _probe():
    user32, kernel32 = ctypes.windll.user32, ctypes.windll.kernel32
    hwnd = user32.GetForegroundWindow()
    if not hwnd:
        return None, "", False
    length = user32.GetWindowTextLengthW(hwnd)
    buffer = ctypes.create_unicode_buffer(length + 1)
    user32.GetWindowTextW(hwnd, buffer, length + 1)
    pid = wintypes.DWORD()
    thread_id = user32.GetWindowThreadProcessId(hwnd, ctypes.byref(pid))
    return _process_name(kernel32, pid.value), buffer.value, _focused_is_password(user32, thread_id)


def _process_name(kernel32, pid: int) -> str | None:
    handle = kernel32.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return None
    try:
        size = wintypes.DWORD(1024)
        path = ctypes.create_unicode_buffer(size.value)
        if not kernel32.QueryFullProcessImageNameW(handle, 0, path, ctypes.byref(size)):
            return None
        return PureWindowsPath(path.value).stem.lower()
    finally:
        kernel32.CloseHandle(handle)


def _focused_is_password(user32, thread_id: int) -> bool:
    info = _GUITHREADINFO(cbSize=ctypes.sizeof(_GUITHREADINFO))
    if not user32.GetGUIThreadInfo(thread_id, ctypes.byref(info)) or not info.hwndFocus:
        return False
    return bool(user32.GetWindowLongW(info.hwndFocus, GWL_STYLE) & ES_PASSWORD)


def source(clock=time.monotonic) -> PynputSource:
    return PynputSource(NAME, _probe, knows_secure_fields=KNOWS_SECURE_FIELDS, clock=clock)

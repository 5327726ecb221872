"""Live capture through the accessibility bus on Xvfb, with real GTK3 and Qt5 windows.

Each test has its own session bus and accessibility bus (tests/a11ybus.py); the
capture runs as a process (keyboard hook + accessibility source) and every test
asserts the exact segments it prints.
"""

from __future__ import annotations

import json
import signal

import pytest

from a11ybus import desktop

pytestmark = pytest.mark.x11

SECRET = "zebra-canary-7731"


def stop(proc, out, err) -> list[tuple[str, str, str]]:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    out.rest()
    err.rest()
    return [(s["text"], s["app"], s["reason"]) for s in map(json.loads, out.lines)]


def test_gtk_entry_typed_with_xdotool_gives_exactly_the_typed_segments():
    with desktop() as d:
        proc, out, err = d.start_capture()
        window = d.gtk_window("Shopping list - Notes")
        err.wait_for(lambda line: line.startswith("field: gtk_field.py [text] text"), what="entry field")
        d.x.xdotool("type", "--delay", "5", "new laptoq")
        d.x.xdotool("key", "BackSpace")
        d.x.xdotool("type", "--delay", "5", "p for uni")
        d.x.xdotool("key", "Return")
        out.wait_for(lambda line: "new laptop for uni" in line, what="first segment")
        # The field keeps its text: the next segment is only what was typed after.
        d.x.xdotool("type", "--delay", "5", " and a bag")
        d.x.xdotool("key", "Return")
        out.wait_for(lambda line: "and a bag" in line, what="second segment")
        segments = stop(proc, out, err)
    assert segments == [("new laptop for uni", "gtk_field.py", "enter"),
                        ("and a bag", "gtk_field.py", "enter")]


def test_input_method_commit_gives_the_committed_chinese_and_focus_change_commits():
    with desktop() as d:
        proc, out, err = d.start_capture()
        notes = d.gtk_window("Notes")
        err.wait_for(lambda line: line.startswith("field: gtk_field.py [text] text"), what="entry field")
        # An input method commits whole strings, as insert-at-cursor does.
        notes.command("commit 国庆去大理")
        d.x.xdotool("key", "Return")
        out.wait_for(lambda line: "国庆去大理" in line, what="committed Chinese")
        notes.command("commit 下周")
        d.x.xdotool("type", "--delay", "5", " ok")
        chat = d.gtk_window("Team chat")
        out.wait_for(lambda line: "下周 ok" in line, what="focus commit")
        d.x.xdotool("type", "--delay", "5", "see you")
        d.x.xdotool("key", "Return")
        out.wait_for(lambda line: "see you" in line, what="chat segment")
        segments = stop(proc, out, err)
        print("\n".join(err.lines))
    assert segments == [("国庆去大理", "gtk_field.py", "enter"), ("下周 ok", "gtk_field.py", "focus"),
                        ("see you", "gtk_field.py", "enter")]

"""Live capture on a real X server: Xvfb + openbox, keys typed by xdotool.

``ime-agent capture --print`` runs as a real process; the test reads its output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from xserver import LineReader, xvfb

pytestmark = pytest.mark.x11

SECRET = "zebra-canary-7731"


def start_capture(x, *extra: str):
    env = dict(x.env, IME_AGENT_CONFIG=os.devnull, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ime_agent", "capture", "--print", "--json", "--show-focus", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out, err = LineReader(proc.stdout), LineReader(proc.stderr)
    err.wait_for(lambda line: line.startswith("capturing"), 20, "capture to start")
    return proc, out, err


def stop_capture(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def segments(lines):
    return [(s["text"], s["app"], s["reason"]) for s in map(json.loads, lines)]


def test_typing_editing_click_focus_and_password_prompt():
    with xvfb() as x:
        notes = x.window("notes", "Shopping list - Notes")
        chat = x.window("chatapp", "Team chat")
        prompt = x.window("browser", "Sign in to your account")
        proc, out, err = start_capture(x)
        try:
            x.activate(notes)
            err.wait_for(lambda line: line == "focus: notes", what="focus on notes")

            # A typo fixed with backspace, then Enter.
            x.xdotool("type", "--delay", "5", "new laptoq")
            x.xdotool("key", "BackSpace")
            x.xdotool("type", "--delay", "5", "p for uni")
            x.xdotool("key", "Return")
            out.wait_for(lambda line: "new laptop for uni" in line, what="enter segment")

            # A mouse click commits what was typed so far.
            x.xdotool("type", "--delay", "5", "Dali in May?")
            x.xdotool("click", "1")
            out.wait_for(lambda line: "Dali in May?" in line, what="click segment")

            # Moving focus to another real window commits, then typing goes there.
            x.xdotool("type", "--delay", "5", "half a thought")
            x.activate(chat)
            err.wait_for(lambda line: line == "focus: chatapp", what="focus on chat")
            x.xdotool("type", "--delay", "5", "see you at 5")
            x.xdotool("key", "Return")
            out.wait_for(lambda line: "see you at 5" in line, what="chat segment")

            # A window titled as a password prompt: nothing typed there is kept.
            x.activate(prompt)
            err.wait_for(lambda line: line == "focus: browser (blocked)", what="blocked focus")
            x.xdotool("type", "--delay", "5", SECRET)
            x.xdotool("key", "Return")

            x.activate(notes)
            err.wait_for(lambda line: line.startswith("focus: notes") and
                         err.lines.count("focus: notes") == 2, what="focus back on notes")
            x.xdotool("type", "--delay", "5", "Back again")
            x.xdotool("key", "Return")
            out.wait_for(lambda line: "Back again" in line, what="last segment")
        finally:
            stop_capture(proc)
        out.rest()
        err.rest()

    assert segments(out.lines) == [
        ("new laptop for uni", "notes", "enter"),
        ("Dali in May?", "notes", "click"),
        ("half a thought", "notes", "focus"),
        ("see you at 5", "chatapp", "enter"),
        ("Back again", "notes", "enter"),
    ]
    everything = "\n".join(out.lines + err.lines)
    assert SECRET not in everything


def test_denied_app_is_never_captured_and_idle_commits_without_a_key():
    with xvfb() as x:
        terminal = x.window("xterm", "user@host: ~")
        notes = x.window("notes", "Notes")
        proc, out, err = start_capture(x, "--idle-commit", "0.5")
        try:
            x.activate(terminal)
            err.wait_for(lambda line: line == "focus: xterm (blocked)", what="denied focus")
            x.xdotool("type", "--delay", "5", SECRET)
            x.xdotool("key", "Return")
            x.activate(notes)
            err.wait_for(lambda line: line == "focus: notes", what="focus on notes")
            # No Enter: the idle timer alone must commit this.
            x.xdotool("type", "--delay", "5", "idle thought")
            out.wait_for(lambda line: "idle thought" in line, what="idle segment")
        finally:
            stop_capture(proc)
        out.rest()
        err.rest()
    assert segments(out.lines) == [("idle thought", "notes", "idle")]
    assert SECRET not in "\n".join(out.lines + err.lines)


def test_focus_follows_input_focus_without_a_window_manager():
    with xvfb(window_manager=False) as x:
        first = x.window("notes", "Notes")
        second = x.window("mailer", "Inbox")
        proc, out, err = start_capture(x)
        try:
            x.xdotool("windowfocus", "--sync", first)
            err.wait_for(lambda line: line == "focus: notes", what="focus on notes")
            x.xdotool("type", "--delay", "5", "first window")
            x.xdotool("windowfocus", "--sync", second)
            err.wait_for(lambda line: line == "focus: mailer", what="focus on mailer")
            x.xdotool("type", "--delay", "5", "second")
        finally:
            stop_capture(proc)
        out.rest()
        err.rest()
    assert segments(out.lines) == [("first window", "notes", "focus"), ("second", "mailer", "end")]


def test_missing_record_extension_is_a_clear_error():
    from xserver import need_tools

    need_tools("Xvfb")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-extension", "RECORD",
                               "-nolisten", "tcp"], pass_fds=(write_fd,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as numbers:
            display = ":" + numbers.readline().strip()
        result = subprocess.run([sys.executable, "-m", "ime_agent", "capture", "--print"],
                                env=dict(os.environ, DISPLAY=display), capture_output=True,
                                text=True, timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.returncode == 1
    assert "RECORD" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

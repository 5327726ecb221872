"""Capture fails closed on X11: no key typed into a password window is ever kept.

Xvfb + openbox, keys typed by xdotool with no delay right after a focus change or a
title change, as password-manager auto-type does. Every test types secrets into a
window that must not be captured and a sentinel into one that may, and asserts
that the only segments are sentinels: zero characters of any secret.
"""

from __future__ import annotations

import itertools
import time

import pytest

from capture.test_live_x11 import segments, start_capture, stop_capture
from ime_agent.capture import _xorg
from xserver import wait_until, xvfb

pytestmark = pytest.mark.x11

ROUNDS = 50


def type_racing_activation(x, scratch: str, guarded: str, rounds: int) -> None:
    """From ``scratch``, activate ``guarded`` and type a secret at once, ``rounds`` times; then
    type the sentinel into ``scratch``."""
    for i in range(rounds):
        x.xdotool("windowactivate", "--sync", scratch)
        # Activation and typing in one xdotool call: the keys race the focus change.
        x.xdotool("windowactivate", guarded, "type", "--delay", "0", f"pwrace{i}x hunter2")
        x.xdotool("key", "Return")
    x.xdotool("windowactivate", "--sync", scratch)
    x.xdotool("type", "--delay", "0", "sentinel")
    x.xdotool("key", "Return")


@pytest.mark.parametrize("app, title", [("vault", "Password required"), ("keepassxc", "Passwords.kdbx")],
                         ids=["password window", "denied app"])
def test_keys_typed_right_after_activating_a_guarded_window_are_never_kept(app, title):
    """The reproduction: activate a password window (or a denied app) and type at once, 50 times."""
    with xvfb() as x:
        scratch = x.window("scratch", "Scratch")
        guarded = x.window(app, title)
        proc, out, err = start_capture(x, "--idle-commit", "2")
        try:
            type_racing_activation(x, scratch, guarded, ROUNDS)
            out.wait_for(lambda line: "sentinel" in line, 30, "the sentinel")
        finally:
            stop_capture(proc)
        out.rest()
        err.rest()
    assert segments(out.lines) == [("sentinel", "scratch", "enter")]
    assert "hunter" not in "\n".join(out.lines + err.lines)


def test_a_listener_that_falls_behind_cannot_end_a_pending_activation_early(monkeypatch):
    """The grace after an activation request is counted on the X server's clock. Here the source's
    own clock jumps two seconds at every reading, as if its listener stalled before each event;
    still no key typed while the activation was pending is kept (on the listener's clock, every
    grace would have run out at the first key)."""
    from ime_agent.capture.live import LiveCapture

    readings = itertools.count()

    def stalling_clock() -> float:
        return 2.0 * next(readings)

    with xvfb() as x:
        scratch = x.window("scratch", "Scratch")
        guarded = x.window("vault", "Password required")
        x.activate(scratch)
        monkeypatch.setenv("DISPLAY", x.display)
        got = []
        live = LiveCapture(_xorg.source(clock=stalling_clock), got.append, idle_commit=10**9)
        live.start()
        try:
            type_racing_activation(x, scratch, guarded, ROUNDS // 5)
            wait_until(lambda: any(s.text == "sentinel" for s in got), what="the sentinel")
        finally:
            live.stop()
    assert [s.text for s in got] == ["sentinel"]


def test_an_activation_the_window_manager_ignores_holds_keys_back_only_for_the_grace():
    """A request to activate a window the window manager does not manage (never mapped) is ignored:
    keys are dropped for the grace (two seconds of server time from the first key), then kept again."""
    from Xlib import X, display as xdisplay, protocol

    with xvfb() as x:
        notes = x.window("notes", "Notes")
        proc, out, err = start_capture(x, "--idle-commit", "2")
        try:
            x.activate(notes)
            err.wait_for(lambda line: line == "focus: notes", what="focus on notes")
            conn = xdisplay.Display(x.display)
            root = conn.screen().root
            hidden = root.create_window(0, 0, 10, 10, 0, 0)
            hidden.set_wm_class("hidden", "Hidden")
            request = protocol.event.ClientMessage(window=hidden, client_type=conn.intern_atom("_NET_ACTIVE_WINDOW"),
                                                   data=(32, [1, X.CurrentTime, 0, 0, 0]))
            root.send_event(request, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
            conn.flush()
            err.wait_for(lambda line: line == "focus: notes (blocked)", what="the activation to be pending")
            first_key = time.monotonic()
            for i in itertools.count():
                x.xdotool("type", "--delay", "0", f"w{i}")
                x.xdotool("key", "Return")
                if out.poll():
                    break
                assert time.monotonic() - first_key < 15, "keys were still dropped 15 s after the request"
            kept_after = time.monotonic() - first_key
            conn.close()
        finally:
            stop_capture(proc)
        out.rest()
    kept = segments(out.lines)
    assert all(app == "notes" and reason == "enter" for _text, app, reason in kept)
    # What was kept is the tail of what was typed (the grace may end inside a word), never the start.
    texts = [text for text, _app, _reason in kept]
    typed = [f"w{n}" for n in range(i + 1 - len(texts), i + 1)]
    assert texts[1:] == typed[1:] and typed[0].endswith(texts[0]) and typed[0] != "w0"
    assert kept_after >= _xorg.ACTIVATION_GRACE_MS / 1000


def test_a_title_changed_in_place_applies_from_that_key_on():
    with xvfb() as x:
        notes = x.window("notesapp", "Notes")
        proc, out, err = start_capture(x, "--idle-commit", "2")
        try:
            x.activate(notes)
            err.wait_for(lambda line: line == "focus: notesapp", what="focus on notes")
            for i in range(20):
                # Rename the focused window to a sign-in prompt and type at once.
                x.xdotool("set_window", "--name", "Sign in", notes, "type", "--delay", "0", f"tl{i}q secret")
                x.xdotool("key", "Return")
                x.xdotool("set_window", "--name", "Notes", notes)
            x.xdotool("type", "--delay", "0", "sentinel")
            x.xdotool("key", "Return")
            out.wait_for(lambda line: "sentinel" in line, 30, "the sentinel")
        finally:
            stop_capture(proc)
        out.rest()
        err.rest()
    assert segments(out.lines) == [("sentinel", "notesapp", "enter")]


@pytest.mark.parametrize("connection", ["query", "record"])
def test_losing_an_x_connection_mid_typing_drops_everything_after_it(connection, monkeypatch):
    """The source's X connection is killed by the server (as when it breaks): what was typed
    before is kept, nothing after it, and the source reports itself dead."""
    from Xlib import display as xdisplay
    from Xlib.protocol import request

    from ime_agent.capture.live import LiveCapture

    with xvfb() as x:
        notes = x.window("notes", "Notes")
        x.activate(notes)
        got, health = [], []
        monkeypatch.setenv("DISPLAY", x.display)
        source = _xorg.source()
        live = LiveCapture(source, got.append, idle_commit=5, on_health=health.append)
        live.start()
        try:
            focused = []
            live._on_focus = lambda app, blocked: focused.append(app)
            x.activate(x.window("other", "Other"))
            x.activate(notes)
            wait_until(lambda: focused and focused[-1] == "notes", what="focus on notes")
            x.xdotool("type", "--delay", "0", "before the break")
            x.xdotool("key", "Return")
            wait_until(lambda: got, what="the first segment")
            killer = xdisplay.Display(x.display)
            resource = source.query_resource() if connection == "query" else source.record_resource()
            request.KillClient(display=killer.display, resource=resource)
            killer.sync()
            killer.close()
            x.xdotool("type", "--delay", "0", "after the break")
            x.xdotool("key", "Return")
            wait_until(lambda: health == [False], what="capture to report the source dead")
            assert not source.alive()
        finally:
            live.stop()
    assert [s.text for s in got] == ["before the break"]


def test_a_window_made_after_capture_started_is_seen_before_any_key():
    """A new window can get focus before the source has asked for its focus events (the test window,
    unlike real toolkits, asks for none): the window manager's _NET_ACTIVE_WINDOW tells the source to
    look, so focus is known before the first key and nothing typed is lost."""
    with xvfb() as x:
        proc, out, err = start_capture(x, "--idle-commit", "2")
        try:
            for i in range(5):
                window = x.window(f"fresh{i}", f"Fresh window {i}")
                x.activate(window)
                err.wait_for(lambda line, i=i: line == f"focus: fresh{i}", what=f"focus on fresh{i}")
                x.xdotool("type", "--delay", "0", f"first keys count {i}")
                x.xdotool("key", "Return")
                out.wait_for(lambda line, i=i: f"first keys count {i}" in line, what=f"segment {i}")
        finally:
            stop_capture(proc)
        out.rest()
    assert [text for text, _app, _reason in segments(out.lines)] == [f"first keys count {i}" for i in range(5)]

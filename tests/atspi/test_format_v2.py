"""Key-event format v2: sample sessions, the hold that orders keys and edits, guards, parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ime_agent.capture import replay_session
from ime_agent.capture._base import CARET, DELETE, FIELD, FOCUS, INSERT, PRESS, KeyEvent
from ime_agent.capture._replay import parse_event_v2
from ime_agent.capture.guards import GuardFilter, Guards, PauseState
from ime_agent.capture.text import Reconstructor

DATA = Path(__file__).parent.parent / "data" / "key-events"
SESSIONS = sorted(p for p in DATA.glob("*.jsonl") if not p.name.endswith(".expected.jsonl"))


def expected(path: Path) -> list[dict]:
    lines = path.with_name(path.name.replace(".jsonl", ".expected.jsonl")).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("path", SESSIONS, ids=lambda p: p.stem)
def test_sample_session_gives_its_expected_segments(path):
    got = [{"text": s.text, "app": s.app, "reason": s.reason} for s in replay_session(path).segments]
    assert got == expected(path)


def test_samples_cover_both_formats():
    assert {p.name.split("-")[0] for p in SESSIONS} == {"v1", "v2"}


def window(t, pid, app="notes"):
    return KeyEvent(t, FOCUS, app=app, title="Notes", pid=pid)


def field(t, pid, *, secure=False, reports_text=True, app="notes", role="text"):
    return KeyEvent(t, FIELD, app=app, title="Notes", role=role, secure=secure, reports_text=reports_text, pid=pid)


def press(t, key):
    return KeyEvent(t, PRESS, key=key)


def insert(t, offset, text):
    return KeyEvent(t, INSERT, offset=offset, text=text)


def run(events, *, settle=0.5, ticks=()):
    segments = []
    r = Reconstructor(segments.append, edit_settle=settle)
    for event in events:
        r.feed(event)
    for now in ticks:
        r.tick(now)
    return r, [(s.text, s.reason) for s in segments]


def test_enter_waits_for_the_edit_of_the_last_key_and_no_longer():
    base = [window(0, 1), field(0.01, 1), press(1.0, "a"), press(1.01, "Key.enter")]
    # The last key's edit arrives after the Enter: it still belongs to the segment.
    _, segments = run(base + [insert(1.02, 0, "a")])
    assert segments == [("a", "enter")]
    # An app clearing the field on Enter does not lose the segment.
    _, segments = run(base + [insert(1.02, 0, "a"), KeyEvent(1.03, DELETE, offset=0, length=1)])
    assert segments == [("a", "enter")]


def test_held_commit_goes_ahead_when_the_settle_time_passes():
    # Input-method keys expect edits that never come: the Enter waits edit_settle, no more.
    events = [window(0, 1), field(0.01, 1), press(1.0, "g"), press(1.1, "u"), press(1.2, "o"),
              press(1.3, "Key.space"), insert(1.31, 0, "国"), press(1.4, "Key.enter")]
    r, segments = run(events)
    assert segments == [] and r.idle_deadline() == pytest.approx(1.3 + 0.5)
    _, segments = run(events, ticks=[1.79, 1.81])
    assert segments == [("国", "enter")]


def test_keys_after_a_window_change_wait_for_its_field():
    # The bus reports the new window's field after the window tracker: keys typed in
    # between are judged by the field (no keystroke text), so nothing is doubled.
    events = [window(0, 1), field(0.01, 1), window(1.0, 2, app="chat"), press(1.01, "h"),
              field(1.05, 2, app="chat"), insert(1.06, 0, "h"), press(1.2, "Key.enter")]
    assert run(events)[1] == [("h", "enter")]


def test_a_window_off_the_bus_is_judged_by_keystrokes_after_the_wait():
    events = [window(0, 1), field(0.01, 1), window(1.0, 3, app="xterm-ish"), press(1.01, "o"),
              press(1.02, "k"), insert(1.03, 0, "zz"), press(1.6, "Key.enter")]
    assert run(events)[1] == [("ok", "enter")]


def test_secure_field_keeps_nothing_and_its_keys_never_buffer():
    events = [window(0, 1), field(0.01, 1, secure=True, reports_text=False, role="password text"),
              press(1.0, "s"), insert(1.01, 0, "s"), press(1.1, "Key.enter")]
    r, segments = run(events)
    assert segments == [] and not r.has_text


def test_v1_sessions_never_hold():
    r, segments = run([KeyEvent(0, FOCUS, app="notes", title="Notes"), press(1, "a"), press(1.01, "Key.enter")])
    assert segments == [("a", "enter")] and r.idle_deadline() is None


def test_guard_drops_edits_when_paused_and_in_blocked_fields():
    kept = []
    pause = PauseState()
    guard = GuardFilter(Guards(), kept.append, pause)
    guard(window(0, 1))
    guard(field(0.1, 1, app="keepassxc"))  # a denied app seen through the bus
    guard(insert(0.2, 0, "x"))
    guard(field(0.3, 1))
    pause.paused = True
    guard(insert(0.4, 0, "y"))
    guard(KeyEvent(0.5, CARET, offset=1))
    pause.paused = False
    guard(insert(0.6, 0, "z"))
    assert [e.type for e in kept] == [FOCUS, FIELD, FIELD, INSERT]
    assert kept[1].secure and kept[3].text == "z"
    assert guard.dropped == {"denied": 1, "paused": 2}


def test_guard_reads_sign_in_titles_of_fields():
    kept = []
    guard = GuardFilter(Guards(), kept.append)
    guard(KeyEvent(0, FIELD, app="firefox", title="Sign in to your account", role="entry", reports_text=True, pid=9))
    assert kept[0].secure


@pytest.mark.parametrize("line, message", [
    ({"t": 0, "type": "insert", "offset": 0}, "non-empty string 'text'"),
    ({"t": 0, "type": "insert", "offset": -1, "text": "a"}, "non-negative integer 'offset'"),
    ({"t": 0, "type": "delete", "offset": 0}, "non-negative integer 'length'"),
    ({"t": 0, "type": "caret", "offset": True}, "non-negative integer 'offset'"),
    ({"t": 0, "type": "field", "app": "a", "secure": False}, "string 'role'"),
    ({"t": 0, "type": "field", "app": "a", "role": "text", "secure": False, "reports_text": "yes"}, "'reports_text'"),
    ({"t": 0, "type": "focus", "app": "a", "title": "", "secure": False, "pid": 0}, "'pid'"),
    ({"type": "caret", "offset": 1}, "'t'"),
])
def test_bad_v2_lines_say_what_is_wrong(line, message):
    with pytest.raises(ValueError, match=message):
        parse_event_v2(line)


def test_v2_event_reprs_never_show_text():
    assert "secret" not in repr(insert(0, 0, "secret"))


def test_a_tracker_seeing_no_window_leaves_the_field_in_charge():
    events = [window(0, 1), field(0.01, 1), KeyEvent(1.0, FOCUS, app="unknown", title=""),
              field(1.02, 2, app="chat"), press(1.05, "h"), insert(1.06, 0, "h"), press(1.2, "Key.enter")]
    segments = []
    r = Reconstructor(segments.append)
    for event in events:
        r.feed(event)
    assert [(s.text, s.app, s.reason) for s in segments] == [("h", "chat", "enter")]


def test_a_field_reported_before_the_window_tracker_catches_up_applies():
    events = [window(0, 1), field(0.01, 1, secure=True, reports_text=False, role="password text"),
              field(1.0, 2, app="chat"), press(1.05, "h"), insert(1.06, 0, "h"), press(1.2, "Key.enter"),
              window(1.3, 2, app="chat"), press(1.4, "i"), insert(1.41, 0, "i"), press(1.5, "Key.enter")]
    segments = []
    r = Reconstructor(segments.append)
    for event in events:
        r.feed(event)
    assert [(s.text, s.app) for s in segments] == [("h", "chat"), ("i", "chat")]

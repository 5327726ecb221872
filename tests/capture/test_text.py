"""The reconstruction state machine, rule by rule, and properties of its edits."""

from __future__ import annotations

from hypothesis import given, strategies as st

from ime_agent.capture._base import KeyEvent
from ime_agent.capture.text import Reconstructor


class Typist:
    """Builds event streams the way a person types them, 0.1 s per key."""

    def __init__(self):
        self.t = 0.0
        self.events: list[KeyEvent] = [KeyEvent(0.0, "focus", app="notes", title="Notes", secure=False)]

    def _at(self, dt=0.1):
        self.t = round(self.t + dt, 6)
        return self.t

    def press(self, key, dt=0.1):
        self.events.append(KeyEvent(self._at(dt), "press", key=key))
        self.events.append(KeyEvent(self._at(0.01), "release", key=key))
        return self

    def type(self, text):
        for char in text:
            self.press("Key.space" if char == " " else char)
        return self

    def combo(self, modifier, key):
        self.events.append(KeyEvent(self._at(), "press", key=modifier))
        self.press(key)
        self.events.append(KeyEvent(self._at(0.01), "release", key=modifier))
        return self

    def event(self, kind, dt=0.1, **fields):
        self.events.append(KeyEvent(self._at(dt), kind, **fields))
        return self

    def focus(self, app, secure=False, title="window"):
        return self.event("focus", app=app, title=title, secure=secure)

    def segments(self, idle_commit=10.0):
        out = []
        machine = Reconstructor(out.append, idle_commit)
        for event in self.events:
            machine.feed(event)
        machine.finish(self.t)
        return [(s.text, s.app, s.reason) for s in out]


def test_typing_and_enter():
    assert Typist().type("hello there").press("Key.enter").segments() == [("hello there", "notes", "enter")]


def test_backspace_and_delete():
    typed = Typist().type("helxo").press("Key.left").press("Key.backspace").press("Key.delete")
    assert typed.type("lo").press("Key.enter").segments() == [("hello", "notes", "enter")]


def test_caret_moves_home_end_and_insert():
    typed = Typist().type("ello").press("Key.home").type("H").press("Key.end").type("!")
    assert typed.press("Key.enter").segments() == [("Hello!", "notes", "enter")]


def test_ctrl_backspace_deletes_whitespace_then_word():
    typed = Typist().type("buy a new  ").combo("Key.ctrl_l", "Key.backspace").type("used bike")
    assert typed.press("Key.enter").segments() == [("buy a used bike", "notes", "enter")]


def test_alt_backspace_also_deletes_a_word():
    typed = Typist().type("one two").combo("Key.alt_l", "Key.backspace")
    assert typed.press("Key.enter").segments() == [("one", "notes", "enter")]


def test_select_all_then_typing_replaces_everything():
    typed = Typist().type("first draft").combo("Key.ctrl_l", "a").type("final")
    assert typed.press("Key.enter").segments() == [("final", "notes", "enter")]


def test_select_all_then_backspace_empties_and_left_goes_to_start():
    assert Typist().type("gone").combo("Key.ctrl_l", "a").press("Key.backspace").segments() == []
    typed = Typist().type("world").combo("Key.ctrl_l", "a").press("Key.left").type("hello ")
    assert typed.press("Key.enter").segments() == [("hello world", "notes", "enter")]
    typed = Typist().type("hello").combo("Key.cmd", "a").press("Key.right").type("!")
    assert typed.press("Key.enter").segments() == [("hello!", "notes", "enter")]


def test_copy_does_nothing_and_other_shortcuts_commit():
    typed = Typist().type("keep").combo("Key.ctrl_l", "c").type(" going").press("Key.enter")
    assert typed.segments() == [("keep going", "notes", "enter")]
    assert Typist().type("saved").combo("Key.ctrl_l", "s").segments() == [("saved", "notes", "shortcut")]


def test_shift_enter_is_a_newline_and_shift_alone_no_shortcut():
    typed = Typist().type("line one").combo("Key.shift", "Key.enter").combo("Key.shift", "T").type("wo")
    assert typed.press("Key.enter").segments() == [("line one\nTwo", "notes", "enter")]


def test_commit_reasons():
    assert Typist().type("a b").press("Key.tab").segments() == [("a b", "notes", "tab")]
    assert Typist().type("a b").press("Key.up").segments() == [("a b", "notes", "navigate")]
    assert Typist().type("a b").press("Key.page_down").segments() == [("a b", "notes", "navigate")]
    assert Typist().type("a b").event("click").segments() == [("a b", "notes", "click")]
    assert Typist().type("a b").focus("mail").segments() == [("a b", "notes", "focus")]
    assert Typist().type("a b").segments() == [("a b", "notes", "end")]


def test_escape_discards_and_whitespace_only_yields_nothing():
    assert Typist().type("never mind").press("Key.esc").press("Key.enter").segments() == []
    assert Typist().type("   ").press("Key.enter").segments() == []


def test_other_special_keys_are_ignored():
    typed = Typist().type("ab").press("Key.f5").press("Key.caps_lock").press("<65027>").type("c")
    assert typed.press("Key.enter").segments() == [("abc", "notes", "enter")]


def test_text_events_insert_at_caret():
    typed = Typist().event("text", text="想换个").type("MacBook").press("Key.home").event("text", text="我")
    assert typed.press("Key.enter").segments() == [("我想换个MacBook", "notes", "enter")]


def test_secure_focus_drops_everything_but_modifiers():
    typed = Typist().focus("vault", secure=True).type("s3cret").event("text", text="密码").press("Key.enter")
    typed.focus("notes").type("fine").press("Key.enter")
    assert typed.segments() == [("fine", "notes", "enter")]


def test_modifier_held_across_secure_focus_keeps_its_state():
    typed = Typist().focus("vault", secure=True).event("press", key="Key.ctrl_l")
    typed.focus("notes").press("a").event("release", key="Key.ctrl_l").type("x").press("Key.enter")
    # ctrl+a in an empty buffer selects nothing; then "x" is typed.
    assert typed.segments() == [("x", "notes", "enter")]


def test_idle_commit_fires_before_the_next_event():
    typed = Typist().type("first").event("release", dt=10.0, key="z").type("second").press("Key.enter")
    assert typed.segments() == [("first", "notes", "idle"), ("second", "notes", "enter")]


def test_idle_limit_is_inclusive_and_modifiers_do_not_count_as_activity():
    typed = Typist().type("a")
    typed.events.append(KeyEvent(typed.t + 9.99, "press", key="Key.shift"))
    typed.events.append(KeyEvent(typed.t + 10.0, "press", key="b"))
    assert Typist.segments(typed) == [("a", "notes", "idle"), ("b", "notes", "end")]


def test_tick_fires_idle_commit_without_an_event():
    out = []
    machine = Reconstructor(out.append, idle_commit=2.0)
    machine.feed(KeyEvent(1.0, "press", key="h"))
    assert machine.idle_deadline() == 3.0
    machine.tick(2.9)
    assert out == []
    machine.tick(3.0)
    assert [(s.text, s.reason, s.t_start, s.t_end) for s in out] == [("h", "idle", 1.0, 3.0)]
    assert machine.idle_deadline() is None


# -- properties ---------------------------------------------------------------

printable = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40)


@given(printable)
def test_typed_text_comes_back_stripped(text):
    expected = text.strip()
    assert Typist().type(text).press("Key.enter").segments() == ([(expected, "notes", "enter")] if expected else [])


edit = st.one_of(
    st.tuples(st.just("char"), st.sampled_from("abcxyz 中")),
    st.tuples(st.sampled_from(["Key.backspace", "Key.delete", "Key.left", "Key.right", "Key.home", "Key.end"]),
              st.none()),
)


@given(st.lists(edit, max_size=60))
def test_edits_match_a_simple_list_model(ops):
    typist = Typist()
    buffer: list[str] = []
    caret = 0
    for op, char in ops:
        if op == "char":
            typist.press("Key.space" if char == " " else char)
            buffer.insert(caret, char)
            caret += 1
        else:
            typist.press(op)
            if op == "Key.backspace" and caret:
                del buffer[caret - 1]
                caret -= 1
            elif op == "Key.delete" and caret < len(buffer):
                del buffer[caret]
            elif op == "Key.left":
                caret = max(0, caret - 1)
            elif op == "Key.right":
                caret = min(len(buffer), caret + 1)
            elif op == "Key.home":
                caret = 0
            elif op == "Key.end":
                caret = len(buffer)
    expected = "".join(buffer).strip()
    got = typist.press("Key.enter").segments()
    assert got == ([(expected, "notes", "enter")] if expected else [])


@given(printable, printable)
def test_ctrl_backspace_removes_exactly_the_last_word(head, word):
    word = "".join(word.split()) or "w"
    typed = Typist().type(head + " " + word).combo("Key.ctrl_l", "Key.backspace").press("Key.enter")
    expected = (head + " ").strip()
    assert typed.segments() == ([(expected, "notes", "enter")] if expected else [])


@given(printable, printable)
def test_secure_typing_never_reaches_a_segment(before, secret):
    typed = Typist().type(before).focus("vault", secure=True).type(secret).press("Key.enter")
    typed.focus("notes")
    texts = [text for text, _, _ in typed.segments()]
    assert texts == ([before.strip()] if before.strip() else [])

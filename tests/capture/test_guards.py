from __future__ import annotations

from ime_agent.capture import reconstruct
from ime_agent.capture._base import KeyEvent
from ime_agent.capture.guards import GuardFilter, Guards, PauseState
from ime_agent.config import Config


def keys(t0, text):
    return [KeyEvent(t0 + i * 0.1, "press", key=c) for i, c in enumerate(text)]


def test_block_reasons():
    guards = Guards()
    assert guards.block_reason("firefox", "Mozilla Firefox", False) is None
    assert guards.block_reason("firefox", "Mozilla Firefox", True) == "secure"
    assert guards.block_reason("KeePassXC", "Vault", False) == "denied"
    assert guards.block_reason("gnome-terminal", "~", False) == "denied"
    for title in ("Sign in – Example", "Enter passphrase", "sudo password for user", "微信登录", "输入密码"):
        assert guards.block_reason("firefox", title, False) == "secure", title


def test_guards_from_config_use_the_users_lists():
    config = Config(data_dir=None, denied_apps=("secret-app",), secure_title_patterns=("vault",))
    guards = Guards.from_config(config)
    assert guards.block_reason("Secret-App", "x", False) == "denied"
    assert guards.block_reason("gnome-terminal", "x", False) is None
    assert guards.block_reason("notes", "My Vault", False) == "secure"


def test_filter_drops_before_downstream_and_counts():
    seen: list[KeyEvent] = []
    pause = PauseState()
    guard = GuardFilter(Guards(), seen.append, pause)
    guard(KeyEvent(0, "focus", app="keepassxc", title="Vault", secure=False))
    assert seen[-1].secure is True  # a blocked focus travels on as secure
    for event in keys(0.1, "abc") + [KeyEvent(1, "text", text="x"), KeyEvent(1.1, "press", key="Key.ctrl_l")]:
        guard(event)
    assert [e.type for e in seen] == ["focus", "press"] and seen[-1].key == "Key.ctrl_l"
    assert guard.dropped == {"denied": 4}

    guard(KeyEvent(2, "focus", app="notes", title="Notes", secure=False))
    pause.paused = True
    for event in keys(2.1, "zz"):
        guard(event)
    assert guard.dropped["paused"] == 2
    pause.paused = False
    guard(KeyEvent(3, "press", key="k"))
    assert seen[-1].key == "k"


def test_paused_replay_yields_nothing():
    events = [KeyEvent(0, "focus", app="notes", title="Notes", secure=False), *keys(0.1, "hello")]
    assert reconstruct(events, paused=True).segments == []
    assert reconstruct(events).segments[0].text == "hello"

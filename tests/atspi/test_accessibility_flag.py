"""The agent turns the desktop's accessibility flag on while it runs and puts the user's back."""

from __future__ import annotations

import pytest

from a11ybus import desktop
from ime_agent.capture import _atspi

pytestmark = pytest.mark.x11


def flag() -> bool:
    conn = _atspi._session_connection()
    try:
        return bool(_atspi._get_property(conn, *_atspi._A11Y_BUS, "org.a11y.Status", "IsEnabled"))
    finally:
        conn.close()


def test_flag_is_on_while_running_and_restored_after(monkeypatch):
    with desktop() as d:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", d.env["DBUS_SESSION_BUS_ADDRESS"])
        monkeypatch.setenv("XDG_CONFIG_HOME", d.env["XDG_CONFIG_HOME"])
        assert flag() is False
        previous = _atspi.enable_accessibility()
        assert previous is False and flag() is True
        _atspi.restore_accessibility(previous)
        assert flag() is False
        # A user who had it on keeps it on.
        _atspi.enable_accessibility()
        previous = _atspi.enable_accessibility()
        _atspi.restore_accessibility(previous)
        assert previous is True and flag() is True


def test_without_a_session_bus_the_flag_is_left_alone_and_the_source_says_why(monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert _atspi.enable_accessibility() is None
    _atspi.restore_accessibility(None)
    with pytest.raises(_atspi.BackendUnavailable, match="DBUS_SESSION_BUS_ADDRESS"):
        _atspi.check()

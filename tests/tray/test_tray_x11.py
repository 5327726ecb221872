"""The tray on a real X server: docked in trayer, reflecting state, menu and click driving the agent."""

from __future__ import annotations

import pytest
from PIL import Image

from ime_agent.ui import icons
from ime_agent.ui.tray import Tray
from tray.conftest import screenshot
from tray.fake_agent import FakeAgent
from xserver import wait_until

pytestmark = pytest.mark.x11


def item(icon, text: str):
    """The menu item whose text starts with ``text`` (menus are looked up by label, not index)."""
    return next(i for i in icon.menu.items if i.text.startswith(text))


@pytest.fixture
def tray(x_tray, monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "xorg")
    agent = FakeAgent()
    tray = Tray(agent)
    tray.run_detached()
    window = f"0x{tray.icon._window.id:x}"
    wait_until(lambda: _docked(x_tray, window), what="the icon to dock in trayer")
    yield tray, agent, window
    tray.stop()


def _xwininfo(x, *args: str) -> str:
    return x.run("xwininfo", *args, check=False, errors="replace").stdout  # WM_NAME is Latin-1


def _docked(x, window: str) -> bool:
    """Mapped, and reparented into the tray host (its parent is no longer the root window)."""
    info = _xwininfo(x, "-id", window, "-children")
    ids = dict(line.strip().split(": ")[0:2] for line in info.splitlines() if "window id:" in line)
    parent, root = ids.get("Parent window id", "").split(" ")[0], ids.get("Root window id", "").split(" ")[0]
    return bool(parent) and parent != root and "IsViewable" in _xwininfo(x, "-id", window)


def _title(x, window: str) -> str:
    return x.run("xprop", "-id", window, "WM_NAME", errors="replace").stdout


def _shows(x, window: str, state: str, tmp_path) -> bool:
    """Whether the X server really draws ``state``'s colour in the icon window (a screen grab)."""
    path = tmp_path / "icon.png"
    x.run("import", "-window", window, str(path))
    pixels = list(Image.open(path).convert("RGB").tobytes())
    rgb = list(zip(pixels[0::3], pixels[1::3], pixels[2::3]))
    near = sum(all(abs(a - b) <= 30 for a, b in zip(p, icons.COLOURS[state])) for p in rgb)
    return near / len(rgb) > 0.3


def test_icon_docks_and_shows_state(x_tray, tray, tmp_path):
    tray_, agent, window = tray
    assert "ime-agentSystemTrayIcon" in _xwininfo(x_tray, "-root", "-tree")
    assert "_XEMBED_INFO" in x_tray.run("xprop", "-id", window, errors="replace").stdout
    assert "capturing" in _title(x_tray, window)
    wait_until(lambda: _shows(x_tray, window, icons.CAPTURING, tmp_path), what="the capturing icon on screen")
    screenshot(x_tray, "tray-capturing.png", zoom_tray=True)

    agent.set_state(icons.PAUSED)
    tray_.refresh()
    wait_until(lambda: "paused" in _title(x_tray, window), what="the title to say paused")
    assert tray_.icon.icon.tobytes() == icons.icon_image(icons.PAUSED).tobytes()
    wait_until(lambda: _shows(x_tray, window, icons.PAUSED, tmp_path), what="the screen to show the paused icon")
    assert not _shows(x_tray, window, icons.CAPTURING, tmp_path)
    screenshot(x_tray, "tray-paused.png", zoom_tray=True)



def test_menu_actions_drive_the_agent(x_tray, tray):
    tray_, agent, window = tray
    menu = tray_.icon.menu
    assert item(tray_.icon, "capturing:").enabled is False  # the status line is a label
    assert not item(tray_.icon, "Resume").enabled

    item(tray_.icon, "Pause 15 minutes")(tray_.icon)
    assert agent.calls[-1] == ("pause", 15 * 60)
    assert agent.state() == icons.PAUSED
    wait_until(lambda: "paused" in _title(x_tray, window), what="the title to follow the pause")
    assert item(tray_.icon, "Resume").enabled and not item(tray_.icon, "Pause 1 hour").enabled

    item(tray_.icon, "Resume")(tray_.icon)
    assert agent.calls[-1] == ("resume",) and agent.state() == icons.CAPTURING
    wait_until(lambda: "capturing" in _title(x_tray, window), what="the title to follow the resume")

    item(tray_.icon, "Pause 1 hour")(tray_.icon)
    item(tray_.icon, "Resume")(tray_.icon)
    item(tray_.icon, "Pause until I resume")(tray_.icon)
    assert agent.paused_for is None and agent.state() == icons.PAUSED
    for text, call in (("Review", "review"), ("Consent", "open_consent"), ("Delete", "delete_data")):
        item(tray_.icon, text)(tray_.icon)
        assert agent.calls[-1] == (call,)
    assert [i.text for i in menu if i is not type(menu).SEPARATOR] == [
        agent.status_line(), "Pause 15 minutes", "Pause 1 hour", "Pause until I resume", "Resume",
        "Review my summaries", "Consent…", "Delete my data…", "Quit"]


def test_quit_stops_the_icon(x_tray, tray):
    tray_, agent, window = tray
    item(tray_.icon, "Quit")(tray_.icon)
    assert agent.calls == [("quit",)]
    wait_until(lambda: x_tray.run("xwininfo", "-id", window, check=False).returncode != 0,
               what="the icon window to be destroyed")


def test_click_opens_the_choices_window(x_tray, tray):
    """pystray's xorg backend has no menu: a real click on the icon opens the same choices."""
    tray_, agent, window = tray
    x_tray.xdotool("mousemove", "--window", window, "5", "5", "click", "1")
    wait_until(lambda: tray_.choices is not None and tray_.choices.is_open(), what="the choices window")
    choices = wait_until(lambda: x_tray.run("xdotool", "search", "--onlyvisible", "--class", "ime-agent-choices",
                                            check=False).stdout.split(), what="the choices window mapped")
    screenshot(x_tray, "tray-choices.png")
    assert set(tray_.choices.buttons) >= {"Resume", "Review my summaries", "Consent…", "Delete my data…", "Quit"}
    x, y = tray_.choices.button_position("Pause 1 hour")  # Tk marshals the call to its own thread
    x_tray.xdotool("mousemove", str(x), str(y), "click", "1")
    wait_until(lambda: agent.state() == icons.PAUSED, what="the click on 'Pause 1 hour' to pause the agent")
    assert agent.calls == [("pause", 3600)]
    wait_until(lambda: not tray_.choices.is_open(), what="the choices window to close")
    wait_until(lambda: "paused" in _title(x_tray, window), what="the title to follow the pause")
    assert x_tray.run("xwininfo", "-id", choices[0], check=False).returncode != 0


def test_refresh_before_showing_is_harmless_and_showing_catches_up(x_tray, monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "xorg")
    agent = FakeAgent(icons.CONSENT)
    tray_ = Tray(agent)
    agent.set_state(icons.CAPTURING)
    tray_.refresh()  # not shown yet: must neither block nor fail
    tray_.run_detached()
    try:
        window = f"0x{tray_.icon._window.id:x}"
        wait_until(lambda: "capturing" in _title(x_tray, window), what="the shown icon to have the current state")
        assert tray_.icon.icon.tobytes() == icons.icon_image(icons.CAPTURING).tobytes()
    finally:
        tray_.stop()

"""The real agent on a real X server: keys typed by xdotool, captured by pynput, classified,
stored, behind a tray icon docked in trayer — in-process (menu items) and as `ime-agent run`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from ime_agent import consent
from ime_agent.ui import icons
from ime_agent.agent import Agent
from ime_agent.config import load_config
from ime_agent.store import Store
from ime_agent.ui.tray import Tray
from tray.conftest import screenshot
from tray.test_tray_x11 import _docked, item
from xserver import LineReader, wait_until

pytestmark = pytest.mark.x11

TRAVEL = "anyone been to dali with kids? thinking 5 days in may"
PURCHASE = "need a new laptop for uni, budget around 800"
SECRET_TRAVEL = "book flights to osaka for the whole family next month"


def type_line(x, text: str) -> None:
    x.xdotool("type", "--delay", "5", text)
    x.xdotool("key", "Return")


def focus(x, agent, window: str, app: str, blocked: bool) -> None:
    x.activate(window)
    wait_until(lambda: agent.focus == (app, blocked), what=f"focus on {app}")


def intents(store) -> list[str]:
    return [s.intent for s in store.summaries()]


@pytest.fixture
def live_agent(x_tray, tmp_path, monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "xorg")
    config = load_config(data_dir=tmp_path / "profile")
    store = Store.open(config.data_dir, key_source="file")
    consent.grant(store, consent.CATEGORIES)
    trays: list = []
    agent = Agent(config, store, icon_shown=lambda: bool(trays) and trays[0].shown)
    tray = Tray(agent)
    trays.append(tray)
    agent.on_change(tray.refresh)
    tray.run_detached()
    agent.start()  # as `ime-agent run` does: capture only once the icon shows
    try:
        window = f"0x{tray.icon._window.id:x}"
        wait_until(lambda: _docked(x_tray, window), what="the icon to dock in trayer")
        wait_until(lambda: agent.capturing, what="capture to start")
        yield agent, tray, store
    finally:
        agent.stop()
        tray.stop()
        store.close()


def test_typing_becomes_a_summary_but_a_password_window_stays_out(x_tray, live_agent):
    agent, tray, store = live_agent
    notes = x_tray.window("firefox", "Trip ideas - Mozilla Firefox")
    prompt = x_tray.window("chromium", "Sign in to your account - Chromium")

    focus(x_tray, agent, notes, "firefox", False)
    type_line(x_tray, TRAVEL)
    wait_until(lambda: intents(store) == ["travel"], what="the travel summary")
    (summary,) = store.summaries()
    assert summary.app_category == "browser" and summary.slots.get("destination") == "China"
    screenshot(x_tray, "agent-capturing.png", zoom_tray=True)

    focus(x_tray, agent, prompt, "chromium", True)
    assert "not in this window" in tray.icon.title
    type_line(x_tray, SECRET_TRAVEL)

    focus(x_tray, agent, notes, "firefox", False)
    type_line(x_tray, PURCHASE)
    wait_until(lambda: "purchase" in intents(store), what="the purchase summary")
    assert sorted(intents(store)) == ["purchase", "travel"]  # nothing from the password window


def test_menu_pause_stops_capture_and_resume_restarts_it(x_tray, live_agent):
    agent, tray, store = live_agent
    notes = x_tray.window("firefox", "Notes - Mozilla Firefox")
    focus(x_tray, agent, notes, "firefox", False)

    item(tray.icon, "Pause until I resume")(tray.icon)
    assert agent.state() == icons.PAUSED and store.paused_state().paused
    wait_until(lambda: tray.icon.title.startswith("ime-agent: paused"), what="the title to say paused")
    screenshot(x_tray, "agent-paused.png", zoom_tray=True)
    type_line(x_tray, TRAVEL)

    item(tray.icon, "Resume")(tray.icon)
    wait_until(lambda: agent.capturing, what="capture to resume")
    assert not store.paused_state().paused
    type_line(x_tray, PURCHASE)
    wait_until(lambda: intents(store) == ["purchase"], what="the line typed after resuming")
    assert "travel" not in intents(store)  # typed while paused: never captured


# --- `ime-agent run` as a real process ------------------------------------------------------


def profile_env(x, data_dir) -> dict[str, str]:
    """One testing profile for the agent process and the CLI (they must agree on its dir)."""
    return dict(x.env, IME_AGENT_DATA_DIR=str(data_dir), IME_AGENT_KEY_SOURCE="file", PYSTRAY_BACKEND="xorg",
                IME_AGENT_PROFILE="testing", PYTHONUNBUFFERED="1")


def cli(x, data_dir, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ime_agent", *args], env=profile_env(x, data_dir),
                          capture_output=True, text=True, timeout=60, check=check)


def start_agent(env: dict[str, str], argv: list[str] | None = None) -> tuple[subprocess.Popen, LineReader]:
    """`ime-agent run` (or ``argv``) as a real process; its log lines are read as they come."""
    agent = subprocess.Popen(argv or [sys.executable, "-m", "ime_agent", "run"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return agent, LineReader(agent.stderr)


def stop_agent(agent: subprocess.Popen) -> int:
    agent.send_signal(signal.SIGTERM)
    return agent.wait(timeout=20)


def icon_title(x) -> str:
    """The WM_NAME of the agent's tray icon window, found by its name (not the consent window's)."""
    found = x.run("xdotool", "search", "--name", "^ime-agent: (capturing|paused|waiting|needs)",
                  check=False).stdout.split()
    return x.run("xprop", "-id", found[0], "WM_NAME", errors="replace").stdout if found else ""


def test_ime_agent_run_as_a_process(x_tray, tmp_path):
    data_dir = tmp_path / "profile"
    cli(x_tray, data_dir, "consent", "grant", "--category", "travel", "--yes")
    agent, log = start_agent(profile_env(x_tray, data_dir))
    try:
        log.wait_for(lambda line: "capture started" in line, 30, "the agent to start capturing")
        wait_until(lambda: "capturing travel" in icon_title(x_tray), what="the icon's title")
        status = cli(x_tray, data_dir, "status").stdout
        assert f"running (PID {agent.pid})" in status and f"{data_dir}-testing" in status

        second = cli(x_tray, data_dir, "run", check=False)
        assert second.returncode == 1 and str(agent.pid) in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1

        notes = x_tray.window("firefox", "Holiday plans - Mozilla Firefox")
        x_tray.activate(notes)
        type_line(x_tray, "hi")  # focus is reported before this line's keys are
        type_line(x_tray, TRAVEL)
        wait_until(lambda: cli(x_tray, data_dir, "summaries", "--json").stdout.strip(),
                   what="the summary to reach the store")
        (row,) = map(json.loads, cli(x_tray, data_dir, "summaries", "--json").stdout.splitlines())
        assert row["intent"] == "travel" and row["app_category"] == "browser"

        cli(x_tray, data_dir, "pause", "--for", "10m")
        wait_until(lambda: "paused until" in icon_title(x_tray), what="the agent to obey `ime-agent pause`")
        cli(x_tray, data_dir, "resume")
        wait_until(lambda: "capturing travel" in icon_title(x_tray), what="the agent to obey `ime-agent resume`")
    finally:
        code = stop_agent(agent)
    assert code == 0, log.rest()
    assert "not running" in cli(x_tray, data_dir, "status").stdout
    assert TRAVEL not in "\n".join(log.rest())


def test_first_run_asks_for_consent_before_capturing(x_tray, tmp_path):
    data_dir = tmp_path / "fresh"
    agent, log = start_agent(profile_env(x_tray, data_dir))
    try:
        windows = wait_until(lambda: x_tray.run("xdotool", "search", "--onlyvisible", "--class", "ime-agent-consent",
                                                check=False).stdout.split(), 30, what="the consent window")
        wait_until(lambda: "waiting for your consent" in icon_title(x_tray), what="the consent icon title")
        screenshot(x_tray, "first-run-consent.png")
        assert not any("capture started" in line for line in log.lines)
        x_tray.activate(windows[0])
        x_tray.xdotool("key", "Escape")  # "Not now": nothing agreed, nothing captured
        wait_until(lambda: not x_tray.run("xdotool", "search", "--onlyvisible", "--class", "ime-agent-consent",
                                          check=False).stdout.split(), what="the window to close")
        status = cli(x_tray, data_dir, "status").stdout
        assert f"running (PID {agent.pid})" in status and "until you consent" in status
    finally:
        code = stop_agent(agent)
    assert code == 0
    assert not any("capture started" in line for line in log.rest())


def test_autostart_entry_starts_the_agent(x_tray, tmp_path):
    """What the desktop session would run at login really starts the agent; disable removes it."""
    import configparser

    from ime_agent.autostart import _xdg

    data_dir = tmp_path / "profile"
    xdg_home = tmp_path / "xdg-config"
    env = dict(x_tray.env, XDG_CONFIG_HOME=str(xdg_home), PYSTRAY_BACKEND="xorg", PYTHONUNBUFFERED="1",
               IME_AGENT_KEY_SOURCE="file")
    env.pop("IME_AGENT_DATA_DIR", None)
    run = lambda *args: subprocess.run([sys.executable, "-m", "ime_agent", *args], env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=60, check=True)
    run("--data-dir", str(data_dir), "consent", "grant", "--category", "purchase", "--yes")
    run("--data-dir", str(data_dir), "autostart", "enable")
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(xdg_home / "autostart" / "ime-agent.desktop")
    argv = _xdg.parse_exec(entry["Desktop Entry"]["Exec"])
    assert argv[-1] == "run" and str(data_dir) in argv

    agent, log = start_agent(env, argv)
    try:
        log.wait_for(lambda line: "capture started" in line, 30, "the autostarted agent to capture")
        wait_until(lambda: "capturing purchase" in icon_title(x_tray), what="its tray icon")
    finally:
        assert stop_agent(agent) == 0
    assert "disabled" in run("autostart", "disable").stdout
    assert not (xdg_home / "autostart" / "ime-agent.desktop").exists()


def test_no_capture_until_a_system_tray_shows_the_icon(tmp_path):
    """Started before any tray host (a panel still loading at login): capture waits for the icon."""
    from xserver import xvfb

    with xvfb() as x:
        data_dir = tmp_path / "profile"
        cli(x, data_dir, "consent", "grant", "--category", "travel", "--yes")
        agent, log = start_agent(profile_env(x, data_dir))
        try:
            log.wait_for(lambda line: "tray icon shown" in line, 30, "the agent to start")
            # The agent says this only while no capture runs (it has none to stop).
            wait_until(lambda: "no system tray" in icon_title(x), what="the title to say why capture is off")
            x.spawn("trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32",
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            log.wait_for(lambda line: "capture started" in line, 30, "capture once the icon is docked")
            wait_until(lambda: "capturing travel" in icon_title(x), what="the capturing title")
        finally:
            code = stop_agent(agent)
        assert code == 0, log.rest()

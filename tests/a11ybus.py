"""An isolated desktop for accessibility tests: Xvfb, its own D-Bus session bus and
accessibility bus, private XDG dirs, and GTK3 / Qt5 test windows.

Each test gets its own ``XDG_RUNTIME_DIR`` (the accessibility bus's socket lives
there), ``XDG_CONFIG_HOME`` (the accessibility flag persists there) and session
bus, so nothing reaches the user's desktop or another test. Every process is
started in its own process group and the whole group is ended afterwards (the
buses start the registry and the accessibility bus as their children).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from xserver import REQUIRED, LineReader, Xvfb, _readline, wait_until, xvfb

HERE = Path(__file__).parent
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, which has python3-gi and python3-pyqt5
LAUNCHERS = ("/usr/libexec/at-spi-bus-launcher", "/usr/lib/at-spi2-core/at-spi-bus-launcher")
APT = "scripts/setup-system (at-spi2-core gir1.2-gtk-3.0 python3-gi python3-pyqt5 dbus-x11)"


def _missing(what: str) -> None:
    if REQUIRED:
        pytest.fail(f"CI requires the accessibility tests: missing {what}; run {APT}")
    pytest.skip(f"missing {what}; run {APT}")


def _system_python_has(module: str) -> bool:
    return subprocess.run([SYSTEM_PYTHON, "-c", f"import {module}"], capture_output=True).returncode == 0


def need_accessibility(*, qt: bool = False) -> str:
    """The bus launcher's path; skip (fail in CI) when a tool is missing."""
    launcher = next((p for p in LAUNCHERS if os.access(p, os.X_OK)), None)
    if launcher is None:
        _missing("at-spi-bus-launcher")
    if shutil.which("dbus-daemon") is None:
        _missing("dbus-daemon")
    if not os.access(SYSTEM_PYTHON, os.X_OK) or not _system_python_has("gi"):
        _missing("python3-gi")
    if qt and not _system_python_has("PyQt5.QtWidgets"):
        _missing("python3-pyqt5")
    return launcher


class Desktop:
    def __init__(self, x: Xvfb, env: dict[str, str], launcher: str, home: Path):
        self.x = x
        self.env = env
        self.home = home
        self._launcher = launcher
        self._groups: list[subprocess.Popen] = []

    def spawn_group(self, *args: str, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(args, env=kwargs.pop("env", self.env), start_new_session=True, **kwargs)
        self._groups.append(proc)
        return proc

    def start_session_bus(self) -> None:
        bus = self.spawn_group("dbus-daemon", "--session", "--nofork", "--print-address=1",
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = _readline(bus.stdout, 10, "the session bus's address").strip()

    def start_accessibility_bus(self) -> None:
        self.spawn_group(self._launcher, "--launch-immediately", stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        wait_until(self.accessibility_address, 15, 0.05, "the accessibility bus")

    def accessibility_address(self) -> str | None:
        from jeepney import DBusAddress, MessageType, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        with open_dbus_connection(self.env["DBUS_SESSION_BUS_ADDRESS"]) as conn:
            reply = conn.send_and_get_reply(new_method_call(
                DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus"),
                "GetAddress"), timeout=5)
        if reply.header.message_type == MessageType.error:
            return None
        return reply.body[0]

    def accessibility_bus_pid(self) -> int:
        """The accessibility bus daemon: the dbus-daemon listening in this desktop's runtime dir."""
        runtime = self.env["XDG_RUNTIME_DIR"]

        def find() -> int | None:
            for proc in Path("/proc").iterdir():
                try:
                    args = (proc / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if args and args[0].endswith(b"dbus-daemon") and any(runtime.encode() in a for a in args) \
                        and any(b"accessibility" in a for a in args):
                    return int(proc.name)
            return None

        return wait_until(find, 10, 0.05, "the accessibility bus daemon")

    def gtk_window(self, title: str, *options: str, env: dict[str, str] | None = None):
        """A GTK3 entry window; returns (process, stdin writer, pid) once the entry has focus."""
        proc = self.spawn_group(SYSTEM_PYTHON, str(HERE / "atspi" / "gtk_field.py"), title, *options,
                                env=env or self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        out = LineReader(proc.stdout)
        words = out.wait_for(lambda line: line.startswith("ready"), 20, f"GTK window {title!r}").split()
        window = GtkWindow(proc, out, int(words[1], 16), int(words[2]))
        if "WAYLAND_DISPLAY" not in (env or {}):
            # The accessibility bus can report the new field before the window manager has moved the
            # X input focus: keys typed in between really go to the previous window. Wait for X too.
            self.x.xdotool("windowactivate", "--sync", window.window_id)
        return window

    def qt_window(self, title: str, *options: str):
        env = dict(self.env, QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1", QT_QPA_PLATFORM="xcb")
        proc = self.spawn_group(SYSTEM_PYTHON, str(HERE / "atspi" / "qt_field.py"), title, *options,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        out = LineReader(proc.stdout)
        return proc, int(out.wait_for(lambda line: line.startswith("ready"), 20, f"Qt window {title!r}").split()[1])

    def start_capture(self, *options: str):
        """The capture driver (keyboard hook + accessibility source + LiveCapture) as a process."""
        env = dict(self.env, IME_AGENT_CONFIG=os.devnull, PYTHONUNBUFFERED="1")
        proc = self.spawn_group(sys.executable, str(HERE / "atspi" / "capture_driver.py"), *options,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = LineReader(proc.stdout), LineReader(proc.stderr)
        err.wait_for(lambda line: line == "capturing", 20, "capture to start")
        return proc, out, err

    def start_cli_capture(self, *options: str):
        """``ime-agent capture --print --json --show-focus`` as a process: it finds the sources itself."""
        env = dict(self.env, IME_AGENT_CONFIG=os.devnull, PYTHONUNBUFFERED="1")
        proc = self.spawn_group(sys.executable, "-m", "ime_agent", "capture", "--print", "--json", "--show-focus",
                                *options, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = LineReader(proc.stdout), LineReader(proc.stderr)
        err.wait_for(lambda line: line.startswith("capturing"), 20, "capture to start")
        return proc, out, err

    def stop(self) -> None:
        for proc in reversed(self._groups):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in reversed(self._groups):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            # Children the group leader leaves behind (the registry, the bus it launched).
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


IBUS_CONFIG = ("/usr/libexec/ibus-memconf", "/usr/lib/ibus/ibus-memconf")


def start_ibus_pinyin(d: Desktop) -> dict[str, str]:
    """A real IBus with the libpinyin engine on this desktop; returns the env for its apps.

    ibus-daemon gets its own session (it quits when its parent shell exits) and an
    in-memory config. The test never talks to IBus's own bus beyond selecting the engine.
    """
    config = next((p for p in IBUS_CONFIG if os.access(p, os.X_OK)), None)
    if shutil.which("ibus-daemon") is None or config is None or not Path("/usr/share/ibus/component/libpinyin.xml").exists():
        _missing("ibus / ibus-libpinyin")
    env = dict(d.env, GTK_IM_MODULE="ibus", XMODIFIERS="@im=ibus", GSETTINGS_BACKEND="memory")
    d.spawn_group("ibus-daemon", "--panel=disable", "--emoji-extension=disable", f"--config={config}", "--xim",
                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def engine_is_pinyin() -> bool:
        # `ibus engine NAME` may exit 1 while the engine starts; ask what is set.
        subprocess.run(["ibus", "engine", "libpinyin"], env=env, capture_output=True, timeout=10)
        asked = subprocess.run(["ibus", "engine"], env=env, capture_output=True, text=True, timeout=10)
        return asked.stdout.strip() == "libpinyin"

    wait_until(engine_is_pinyin, 20, 0.1, "IBus to take the libpinyin engine")
    return env


class GtkWindow:
    def __init__(self, proc, out: LineReader, window_id: int, pid: int):
        self.proc, self.out, self.window_id, self.pid = proc, out, f"0x{window_id:x}", pid
        self._done = 0

    def command(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        self._done += 1
        count = self._done
        self.out.wait_for(lambda _line: sum(l.startswith("done") for l in self.out.lines) >= count,
                          10, f"window command {line.split()[0]!r}")


@contextmanager
def desktop(*, window_manager: bool = True, accessibility_bus: bool = True, qt: bool = False):
    launcher = need_accessibility(qt=qt)
    with xvfb(window_manager) as x, tempfile.TemporaryDirectory(prefix="ime-a11y-") as tmp:
        home = Path(tmp)
        for name in ("run", "config", "cache", "data"):
            (home / name).mkdir(mode=0o700)
        env = {k: v for k, v in x.env.items() if k not in ("NO_AT_BRIDGE", "DBUS_SESSION_BUS_ADDRESS",
                                                          "AT_SPI_BUS_ADDRESS", "GTK_IM_MODULE",
                                                          "QT_IM_MODULE", "XMODIFIERS")}
        env.update(XDG_RUNTIME_DIR=str(home / "run"), XDG_CONFIG_HOME=str(home / "config"),
                   XDG_CACHE_HOME=str(home / "cache"), XDG_DATA_HOME=str(home / "data"),
                   GDK_BACKEND="x11")
        d = Desktop(x, env, launcher, home)
        try:
            d.start_session_bus()
            if accessibility_bus:
                d.start_accessibility_bus()
            yield d
        finally:
            d.stop()

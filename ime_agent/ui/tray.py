"""The tray icon and its menu: a view over an :class:`AgentControl`, holding no logic.

The icon and its title always show the agent's state (see :mod:`ime_agent.ui.icons`);
the menu offers pause, resume, review, consent, delete and quit. pystray picks
its backend itself (``PYSTRAY_BACKEND`` overrides: ``xorg``, ``gtk``,
``appindicator``, ``darwin``, ``win32``). Backends without a menu
(``Icon.HAS_MENU`` false: pystray's ``xorg``) get a small tkinter window with
the same choices when the icon is clicked.

pystray is imported when a :class:`Tray` is built, not with this module: on X11
importing it needs a display, and the rest of ime-agent must import headless.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, Protocol

from ime_agent import env
from ime_agent.errors import BackendUnavailable
from ime_agent.ui import _xorg_icon, icons, tk

APP_NAME = "ime-agent"
PAUSE_CHOICES = (("Pause 15 minutes", 15 * 60), ("Pause 1 hour", 60 * 60), ("Pause until I resume", None))


class AgentControl(Protocol):
    """What the tray asks of the running agent. Calls come on the tray's thread,
    so anything slow or modal (windows) should hand itself to another thread."""

    def state(self) -> str:
        """One of :data:`ime_agent.ui.icons.STATES`."""

    def status_line(self) -> str:
        """One short line: what is captured and how many summaries today."""

    def pause(self, seconds: float | None) -> None:
        """Stop capturing for ``seconds``, or until :meth:`resume` when ``None``."""

    def resume(self) -> None: ...

    def review(self) -> None:
        """Show the stored summaries."""

    def open_consent(self) -> None:
        """Show the consent window (change or withdraw consent)."""

    def delete_data(self) -> None:
        """Ask, then delete everything stored for this profile."""

    def quit(self) -> None:
        """Stop the agent; the tray stops itself afterwards."""


def check_display() -> None:
    """Fail early, with the fix, where no desktop session can show the icon."""
    if sys.platform.startswith("linux") and not env.get("DISPLAY"):
        raise BackendUnavailable(
            "no X display: the agent shows a tray icon and needs a desktop session with DISPLAY set "
            "(Wayland sessions: run it under XWayland)"
        )


def title_for(state: str, status: str) -> str:
    words = {icons.CONSENT: "waiting for your consent", icons.CAPTURING: "capturing",
             icons.PAUSED: "paused", icons.ERROR: "needs attention"}
    return f"{APP_NAME}: {words.get(state, state)} - {status}"


class Tray:
    def __init__(self, control: AgentControl):
        try:
            import pystray  # needs a display on X11; see the module docstring
        except Exception as exc:  # Xlib raises its own errors for a display it cannot reach
            raise BackendUnavailable(
                f"cannot show the tray icon on display {env.get('DISPLAY')!r} ({type(exc).__name__}); "
                "check DISPLAY and that the X server runs"
            ) from None

        self._control = control
        self._lock = threading.Lock()
        self._shown_state: str | None = None
        self.choices: ChoicesWindow | None = None  # the open no-menu window, if any
        self._thread: threading.Thread | None = None  # when run_detached
        self._running = False
        icon_class = _xorg_icon.clickable(pystray.Icon)
        state = control.state()
        # X11's WM_NAME is Latin-1 in pystray's xorg backend; other backends take any text.
        self._title_encoding = getattr(icon_class, "TITLE_ENCODING", None)
        self.icon = icon_class(APP_NAME, icons.icon_image(state), self._title(state),
                               menu=self._menu(pystray, has_menu=icon_class.HAS_MENU))
        self._shown_state = state

    # -- running -----------------------------------------------------------------------

    def run(self, setup: Callable[["Tray"], None] | None = None) -> None:
        """Show the icon and serve it until :meth:`stop`; ``setup`` runs on another thread once shown."""

        def _setup(icon):
            icon.visible = True
            self._running = True
            self.refresh()  # the state may have changed since the icon was built
            if setup is not None:
                setup(self)

        self.icon.run(setup=_setup)

    def run_detached(self, timeout: float = 10.0) -> None:
        """Serve the icon on a background thread; return once it is shown (for tests and embedding)."""
        shown = threading.Event()
        self._thread = threading.Thread(target=self.run, args=(lambda _tray: shown.set(),),
                                        name="ime-agent-tray", daemon=True)
        self._thread.start()
        if not shown.wait(timeout):
            raise RuntimeError(f"the tray icon did not appear within {timeout}s")

    @property
    def shown(self) -> bool:
        """Whether the icon is up where the user can see it (on X11: docked in a system tray)."""
        return self._running and getattr(self.icon, "docked", True)

    def stop(self, timeout: float = 10.0) -> None:
        """Hide the icon and end its loop (and the choices window); waits for their threads."""
        with self._lock:  # a refresh in flight finishes first; later ones see the icon gone
            self._running = False
        if self.choices is not None:
            self.choices.close()
        self.icon.stop()
        for thread in (self._thread, self.choices and self.choices.thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)

    def refresh(self) -> None:
        """Make icon, title and menu match the controller. Call whenever the state may have changed
        (from any thread); before the icon is shown it does nothing, showing it refreshes."""
        with self._lock:
            if not self._running:
                return
            state = self._control.state()
            if state != self._shown_state:
                self.icon.icon = icons.icon_image(state)
                self._shown_state = state
            title = self._title(state)
            if self.icon.title != title:
                self.icon.title = title
            self.icon.update_menu()

    def _title(self, state: str) -> str:
        title = title_for(state, self._control.status_line())
        if self._title_encoding:
            title = title.encode(self._title_encoding, "replace").decode(self._title_encoding)
        return title

    # -- menu ----------------------------------------------------------------------------

    def _menu(self, pystray, has_menu: bool):
        item, control = pystray.MenuItem, self._control

        def act(fn: Callable[[], None]):
            def action(icon, _item):
                try:
                    fn()
                finally:
                    self.refresh()
            return action

        def pause_for(seconds):
            return act(lambda: control.pause(seconds))

        paused = lambda _item: control.state() == icons.PAUSED  # noqa: E731
        capturing = lambda _item: control.state() == icons.CAPTURING  # noqa: E731
        self._status_item = item(lambda _item: control.status_line(), None, enabled=False)
        items = [
            self._status_item,
            pystray.Menu.SEPARATOR,
            *(item(text, pause_for(seconds), enabled=capturing) for text, seconds in PAUSE_CHOICES),
            item("Resume", act(control.resume), enabled=paused),
            pystray.Menu.SEPARATOR,
            item("Review my summaries", act(control.review)),
            item("Consent…", act(control.open_consent)),
            item("Delete my data…", act(control.delete_data)),
            pystray.Menu.SEPARATOR,
            item("Quit", self._quit),
        ]
        if not has_menu:
            # No menu to pop up: a click activates the default item, which opens the choices window.
            items.append(item("Choices", lambda icon, _item: self.open_choices(), default=True, visible=False))
        return pystray.Menu(*items)

    def _quit(self, icon, _item) -> None:
        try:
            self._control.quit()
        finally:
            self.stop()

    def open_choices(self) -> None:
        """Open (or raise) the small window listing the menu's choices."""
        if self.choices is not None and self.choices.is_open():
            self.choices.lift()
            return
        self.choices = ChoicesWindow(self.icon, labels=(self._status_item,))
        self.choices.start()


class ChoicesWindow:
    """The tray menu as a small tkinter window, for backends without menus.

    Built from the icon's own menu items, so the choices can never drift from the
    menu. Tk runs on this window's own thread; closing it ends the thread, then the
    chosen item runs there (off the icon's event loop).
    """

    TITLE = "ime-agent"
    WM_CLASS = "ime-agent-choices"

    def __init__(self, icon, labels=()):
        self._icon = icon
        self._labels = labels  # items shown as plain text, not buttons
        self.thread = threading.Thread(target=self._run, name="ime-agent-choices", daemon=True)
        self._open = threading.Event()
        self.root = None
        self.buttons: dict[str, object] = {}

    def start(self) -> None:
        self.thread.start()

    def is_open(self) -> bool:
        return self._open.is_set()

    def lift(self) -> None:
        self._later("lift")

    def close(self) -> None:
        self._later("destroy")

    def _later(self, method: str) -> None:
        """Ask the Tk thread to run ``root.<method>()``; a no-op once the window has gone."""
        root = self.root
        if root is not None and self.is_open():
            try:
                root.after(0, getattr(root, method))
            except RuntimeError:  # Tk's thread finished meanwhile
                pass

    def _run(self) -> None:
        import tkinter

        root = tkinter.Tk(className=self.WM_CLASS)
        chosen: list = []
        self._build(root, chosen)
        _place_near_pointer(root)
        self.root = root
        self._open.set()
        try:
            root.mainloop()
        finally:
            self._open.clear()
            del root
            tk.release(self)
        for menu_item in chosen:
            menu_item(self._icon)

    def _build(self, root, chosen: list) -> None:
        import tkinter

        root.title(self.TITLE)
        root.resizable(False, False)
        root.bind("<Escape>", lambda _e: root.destroy())

        def choose(menu_item):
            chosen.append(menu_item)
            root.destroy()

        frame = tkinter.Frame(root, padx=10, pady=10)
        frame.pack(fill="both")
        separator = type(self._icon.menu).SEPARATOR
        for menu_item in self._icon.menu:  # visible items only, separators collapsed
            if menu_item is separator:
                tkinter.Frame(frame, height=1, bg="#bbbbbb").pack(fill="x", pady=4)
            elif menu_item in self._labels:
                tkinter.Label(frame, text=menu_item.text, anchor="w", fg="#444444").pack(fill="x", pady=(0, 4))
            else:
                button = tkinter.Button(frame, text=menu_item.text, anchor="w",
                                   state="normal" if menu_item.enabled else "disabled",
                                   command=lambda m=menu_item: choose(m))
                button.pack(fill="x")
                self.buttons[menu_item.text] = button

    def button_position(self, text: str) -> tuple[int, int]:
        """Screen coordinates inside the button labelled ``text`` (for driving it with real clicks)."""
        button = self.buttons[text]
        return button.winfo_rootx() + button.winfo_width() // 2, button.winfo_rooty() + button.winfo_height() // 2


def _place_near_pointer(root) -> None:
    """Open where the user just clicked (the tray), kept on screen."""
    root.update_idletasks()
    x, y = root.winfo_pointerxy()
    width, height = root.winfo_reqwidth(), root.winfo_reqheight()
    x = max(0, min(x - width // 2, root.winfo_screenwidth() - width))
    y = max(0, min(y, root.winfo_screenheight() - height - 40))
    root.geometry(f"+{x}+{y}")

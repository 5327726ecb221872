"""The tray icon of pystray's X11 backend, made clickable and steady.

pystray's ``xorg`` icon has no menu, takes no clicks once docked, and updates
itself from any thread over one X connection. This backend module keeps what the
tray needs working; it relies on private members of pystray's ``_xorg.Icon``
(pystray is pinned to the versions tested, and tests/tray/test_pystray_contract.py
fails loudly if those members change).
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import threading

DOCK_RETRY_SECONDS = 2.0  # while no system tray runs, ask to be docked this often

#: The private members of pystray's xorg Icon this module relies on.
PYSTRAY_MEMBERS = ("_create_window", "_run", "_display", "_systray_manager", "_assert_docked", "_show",
                   "_hide", "_update_icon", "_update_title", "_stop", "_events", "_dock_window", "_thread")


def clickable(icon_class):
    """Fix what the tray needs from pystray's xorg icon; other backends are returned unchanged.

    - Clicks: the icon window does not ask X for ButtonPress, so real clicks never
      reach pystray's handler, and asking for it on that window makes the tray host
      (GtkSocket in trayer) undock the icon. A transparent InputOnly child, larger
      than any icon and clipped to it, takes the clicks instead; pystray's loop
      hands every ButtonPress on its connection to ``_on_button_press``.
    - Threads: pystray runs updates on its X thread by sending itself a message over
      the same connection from the calling thread, and python-xlib's threaded I/O
      then loses requests or wake-ups now and then (titles lagging a change, Quit
      leaving the icon up, hangs). Here callers queue the update and wake the loop
      through a pipe; the loop waits on the pipe and the X socket together, so
      only the loop thread ever touches the X connection.
    - Docking: asked for once, not again on every icon change.
    - Titles are WM_NAME, which is Latin-1.
    """
    if icon_class.HAS_MENU or not icon_class.__module__.endswith("._xorg"):
        return icon_class
    from Xlib import X

    class ClickableXorgIcon(icon_class):
        TITLE_ENCODING = "latin-1"
        _LOOP_METHODS = ("_show", "_hide", "_update_icon", "_update_title", "_stop")

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._calls: queue.SimpleQueue = queue.SimpleQueue()
            self._wake_read, self._wake_write = os.pipe()
            self._closed = False
            for name in self._LOOP_METHODS:  # replaces pystray's own dispatchers
                setattr(self, name, self._on_loop(getattr(type(self), name).__get__(self)))

        def _create_window(self):
            window = super()._create_window()
            self._click_window = window.create_window(
                0, 0, 1024, 1024, 0, 0, window_class=X.InputOnly, event_mask=X.ButtonPressMask)
            self._click_window.map()
            return window

        def _run(self):
            try:
                super()._run()
            finally:
                self._close()  # on the loop thread, the only one using the connection

        def __del__(self):
            self._close()  # pystray's own __del__ raises once the X server is gone

        def _close(self):
            if getattr(self, "_closed", True):
                return
            self._closed = True
            with contextlib.suppress(Exception):
                self._display.close()
            os.close(self._wake_read)
            os.close(self._wake_write)

        @property
        def docked(self) -> bool:
            return self._systray_manager is not None

        def _assert_docked(self):
            # pystray asks to be docked again on every icon change; trayer then re-embeds
            # the icon each time (flicker, GTK warnings). Once docked is enough.
            if self._systray_manager is None:
                super()._assert_docked()

        def _on_loop(self, method):
            def call():
                if threading.current_thread() is getattr(self, "_thread", None):
                    return method()
                if self._closed:
                    return None  # the loop is gone: nothing left to update
                done, failure = threading.Event(), []
                self._calls.put((method, done, failure))
                try:
                    os.write(self._wake_write, b"x")
                except OSError:
                    return None  # closed meanwhile
                while not done.wait(1.0):
                    if self._closed:
                        return None  # the loop ended before it got to this call
                if failure:
                    raise failure[0]
            return call

        def _events(self):
            """pystray's event source, also running queued calls; ends when the window is gone."""
            display = self._display
            while True:
                self._run_calls()
                # Flushing can read incoming events into Xlib's queue, so flush first, then
                # look at the queue, and wait on the socket only when both are empty.
                display.flush()
                if display.pending_events():
                    yield display.next_event()
                    continue
                retry = DOCK_RETRY_SECONDS if self._systray_manager is None else None
                ready, _, _ = select.select([display.fileno(), self._wake_read], [], [], retry)
                if self._wake_read in ready:
                    os.read(self._wake_read, 4096)
                if not ready and self.visible and self._systray_manager is None:
                    self._dock_window()  # no tray host yet (a panel still starting): try again

        def _run_calls(self):
            while True:
                try:
                    method, done, failure = self._calls.get_nowait()
                except queue.Empty:
                    return
                try:
                    method()
                except Exception as exc:  # handed to the waiting caller
                    failure.append(exc)
                finally:
                    done.set()

    return ClickableXorgIcon

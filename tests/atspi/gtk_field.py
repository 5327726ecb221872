"""A GTK3 test window with one text entry, driven from stdin.

Usage: python3 gtk_field.py TITLE [--password] [--clear-on-enter]
Prints "ready <window id> <pid>" once the entry has focus, then reads commands
on stdin, one per line: ``commit TEXT`` emits insert-at-cursor (as an input
method commit does), ``timed TEXT`` does the same and prints the monotonic time
just before, ``focus`` focuses the entry again, ``refocus`` takes focus off the entry and back (so the
accessibility bus reports a new focus), ``count`` answers ``done count N`` with the
entry's length in characters. Runs with the system
Python (python3-gi), not the project's venv.
"""

import os
import sys
import time

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("GdkX11", "3.0")
from gi.repository import GLib, Gtk  # noqa: E402


def main() -> None:
    title = sys.argv[1]
    window = Gtk.Window(title=title)
    window.set_default_size(400, 80)
    entry = Gtk.Entry()
    if "--password" in sys.argv:
        entry.set_visibility(False)
    if "--clear-on-enter" in sys.argv:
        entry.connect("activate", lambda e: e.set_text(""))
    window.add(entry)
    window.connect("destroy", Gtk.main_quit)
    announced = []

    def announce(*_):
        if not announced and entry.has_focus():
            announced.append(True)
            xid = window.get_window().get_xid() if hasattr(window.get_window(), "get_xid") else 0  # 0: Wayland
            print(f"ready 0x{xid:x} {os.getpid()}", flush=True)
        return False

    entry.connect("notify::has-focus", announce)
    window.connect("notify::is-active", lambda *_: GLib.idle_add(announce))

    def on_stdin(channel, _condition):
        line = channel.readline()
        if not line:
            Gtk.main_quit()
            return False
        command, _, argument = line.rstrip("\n").partition(" ")
        if command == "commit":
            entry.emit("insert-at-cursor", argument)
        elif command == "timed":
            stamp = time.monotonic()
            entry.emit("insert-at-cursor", argument)
            command = f"timed {stamp!r}"
        elif command == "count":
            command = f"count {len(entry.get_text())}"
        elif command == "focus":
            window.present()
            entry.grab_focus()
        elif command == "refocus":
            window.set_focus(None)
            entry.grab_focus()
        print(f"done {command}", flush=True)
        return True

    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.IO_IN | GLib.IO_HUP, on_stdin)
    window.show_all()
    entry.grab_focus()
    Gtk.main()


main()

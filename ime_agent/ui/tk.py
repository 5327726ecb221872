"""Tk on a thread of its own: the one way the dialogs let go of their widgets.

The tray opens windows from several threads, each with its own Tk interpreter.
Tcl aborts the process if an interpreter is freed on another thread than the
one that made it, so a window that is done drops every Tk reference it holds
and collects them on its own thread: :func:`release`.
"""

from __future__ import annotations

import gc


def release(window) -> None:
    """Drop ``window``'s references to Tk objects (widgets, variables, or containers of them)
    and collect them here, on the thread that made them."""
    import tkinter

    def is_tk(value) -> bool:
        if isinstance(value, (tkinter.Misc, tkinter.Variable)):
            return True
        if isinstance(value, dict):
            return any(is_tk(v) for v in value.values())
        if isinstance(value, (list, tuple)):
            return any(is_tk(v) for v in value)
        return False

    for name, value in list(vars(window).items()):
        if is_tk(value):
            setattr(window, name, type(value)() if isinstance(value, (dict, list)) else None)
    gc.collect()

"""A plain X11 top-level window with a given WM_CLASS and title, for tests.

Usage: python x11_window.py APP_CLASS TITLE — prints the window id, then keeps
the window open (serving X events) until terminated.
"""

import sys

from Xlib import X, Xatom, display

conn = display.Display()
screen = conn.screen()
app_class, title = sys.argv[1], sys.argv[2]
window = screen.root.create_window(
    10, 10, 400, 200, 1, screen.root_depth, X.InputOutput, X.CopyFromParent,
    background_pixel=screen.white_pixel,
    event_mask=X.ExposureMask | X.KeyPressMask | X.ButtonPressMask | X.StructureNotifyMask,
)
window.set_wm_class(app_class, app_class)
window.set_wm_name(title)
window.change_property(conn.intern_atom("_NET_WM_NAME"), conn.intern_atom("UTF8_STRING"), 8,
                       title.encode("utf-8"))
window.change_property(conn.intern_atom("WM_PROTOCOLS"), Xatom.ATOM, 32,
                       [conn.intern_atom("WM_TAKE_FOCUS")])
window.map()
conn.flush()
print(f"0x{window.id:x}", flush=True)
while True:
    conn.next_event()

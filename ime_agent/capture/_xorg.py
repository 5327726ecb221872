"""Live capture on X11: keys, clicks, focus and window titles from one ordered stream.

A key belongs to the window that had the X input focus when the X server handled
it — not to whatever a tracker happened to believe when the key reached us. So
keys, mouse clicks, focus changes (FocusIn/FocusOut as delivered to clients) and
property changes (window titles and classes, as requested by clients) are all
taken from *one* RECORD context: the server hands them over in the order it
processed them, and each key is judged against the focus that was current at
that point of the stream. There is no race to lose.

- pynput's keyboard listener turns key codes into characters; this module gives
  it a RECORD context that also carries FocusIn/FocusOut, ButtonPress and the
  ChangeProperty/DeleteProperty/CreateWindow/DestroyWindow requests.
- A client's request that the window manager activate another window
  (``_NET_ACTIVE_WINDOW``, as auto-type and ``xdotool windowactivate`` send) makes
  focus *pending*: keys are dropped until focus has moved (or the grace below has
  passed), because keys typed in that gap were meant for the window being activated.
  The grace is counted on the X server's clock (the time stamped on each key), so a
  listener that falls behind the stream cannot end it early.
- Focus events are only delivered (and so recorded) for windows some client
  selected FocusChangeMask on; this source selects it on every top-level window,
  at start and as windows are created.
- Titles and app ids are kept from the recorded property changes themselves, so
  a title changed in place ("Sign in") applies from exactly that point on.
- When focus cannot be told (focus on no window or on the pointer root, a window
  without an app id, a focus change we did not see), focus is *unknown*: the
  guards drop every key until it is known again. To find out, the source asks the
  server for the focus and writes a marker property: the marker's place in the
  stream says from where that answer holds.
- If the query connection fails or the listener dies, the source reports itself
  dead (``alive()`` is False) and announces an unknown focus, so nothing more is
  kept; the agent shows the error and restarts capture.

X11 has no secure-field flag: password prompts are recognised by the guards from
window titles and app ids (see :mod:`ime_agent.capture.guards`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import struct
import sys
import threading
import time
from collections import OrderedDict

from Xlib import X, Xatom, error as xerror

from ime_agent import env
from ime_agent.capture._base import CLICK, FOCUS, PRESS, RELEASE, REPORTS_FOCUS, REPORTS_KEYS, Emit, KeyEvent
from ime_agent.errors import BackendUnavailable

NAME = "xorg"
log = logging.getLogger(__name__)

# X protocol numbers (X11 core protocol; fixed since 1987).
_KEY_PRESS, _KEY_RELEASE, _BUTTON_PRESS, _FOCUS_IN, _FOCUS_OUT = 2, 3, 4, 9, 10
_CREATE_WINDOW, _DESTROY_WINDOW, _CHANGE_PROPERTY, _DELETE_PROPERTY, _SEND_EVENT = 1, 4, 18, 19, 25
_CLIENT_MESSAGE = 33
_NOTIFY_INFERIOR, _NOTIFY_VIRTUAL, _NOTIFY_NONLINEAR_VIRTUAL = 2, 1, 4
_NOTIFY_POINTER, _NOTIFY_POINTER_ROOT, _NOTIFY_DETAIL_NONE = 5, 6, 7
_PROP_MODE_REPLACE, _PROP_MODE_PREPEND = 0, 1
_FROM_SERVER, _FROM_CLIENT, _START_OF_DATA = 0, 1, 4
_CACHE_WINDOWS = 4096
_READY_TIMEOUT = 10.0
_MARKER_ATOM = "_IME_AGENT_FOCUS_CHECK"
#: After a client asks the window manager to activate another window, keys are dropped until
#: focus moves there, or until this many milliseconds of server time have passed since the first
#: key or click after the request: auto-type activates and types at once, and the first keys
#: would otherwise land in the window being left. Long enough to cover a busy window manager and
#: a short auto-type into a window manager that refuses the activation.
ACTIVATION_GRACE_MS = 2000
_RECOVERY_INTERVAL = 0.2  # while focus is unknown, ask again at most this often (on a key)


def check() -> None:
    """Raise BackendUnavailable unless an X server with RECORD is reachable."""
    display_name = env.get("DISPLAY")
    if not display_name:
        raise BackendUnavailable(
            "no X display: set DISPLAY (e.g. DISPLAY=:0), or replay a recorded session with `ime-agent replay FILE`"
        )
    from Xlib import display as xdisplay

    try:
        conn = xdisplay.Display(display_name)
    except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
        raise BackendUnavailable(
            f"cannot open X display {display_name!r} ({type(exc).__name__}): check DISPLAY and that the X server runs"
        ) from None
    try:
        if not conn.has_extension("RECORD"):
            # pynput's listener thread would die and wait() would hang.
            raise BackendUnavailable(
                f"X display {display_name!r} lacks the RECORD extension: enable it in the X server "
                "(Xvfb: +extension RECORD; Xorg: Load \"record\" in the Module section)"
            )
    finally:
        conn.close()


def source(clock=time.monotonic) -> "XorgSource":
    """The X11 event source; call :func:`check` first (``capture`` does)."""
    return XorgSource(clock)


class XorgSource:
    name = NAME
    capabilities = frozenset({REPORTS_KEYS, REPORTS_FOCUS})

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._emit: Emit | None = None
        self._listener = None
        self._focus: _Focus | None = None
        self.ready = threading.Event()

    def start(self, emit: Emit) -> None:
        self._emit = emit
        try:
            self._focus = _Focus(emit, self._clock)
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
            raise BackendUnavailable(f"cannot open the X display ({type(exc).__name__}); check DISPLAY") from None
        self._listener = _recorder_class()(self._focus, self.ready, self._clock)
        self._listener.start()
        if not self.ready.wait(_READY_TIMEOUT) or not self._listener.is_alive():
            self.stop()
            raise BackendUnavailable("the X11 listener did not start; check the display server and its RECORD extension")

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.stop()
            except Exception as exc:  # e.g. the X connection is already gone (logout)
                log.warning("stopping the X11 listener: %s", type(exc).__name__)
            # pynput's RECORD thread ends at the next protocol element it receives
            # (pynput issue #75), so it is not joined.
        if self._focus is not None:
            self._focus.close()

    def alive(self) -> bool:
        listener, focus = self._listener, self._focus
        return bool(listener is not None and listener.is_alive() and focus is not None and not focus.broken)

    # For tests: the X resources whose owners the server can be asked to disconnect.
    def query_resource(self) -> int:
        return self._focus.marker.id

    def record_resource(self) -> int:
        return self._listener._context


# --- the recording listener ---------------------------------------------------------------


_BAD_WINDOW = (xerror.BadWindow, xerror.BadMatch, xerror.BadValue)
#: The private members of pynput's X11 keyboard listener this module relies on.
PYNPUT_MEMBERS = ("_run", "_handler", "_handle_message", "_initialize", "_mark_ready", "_receive",
                  "_EVENT_PARSER", "_display_stop", "_display_record", "_context", "_stopped", "running",
                  "StopException")


@functools.cache
def _recorder_class():
    """pynput's X11 listener imports only where a display is reachable: build the class on first use."""
    from pynput.keyboard._xorg import Listener

    class Recorder(_RecorderMixin, Listener):
        pass

    return Recorder


class _RecorderMixin:
    """pynput's X11 keyboard listener with a RECORD context that carries focus, titles and clicks too.

    Relies on pynput's ``_run``/``_handler``/``_handle_message``/``_receive`` structure
    (pynput is pinned to the versions tested; tests/capture/test_pynput_contract.py fails
    loudly if those members change)."""

    def __init__(self, focus: "_Focus", ready: threading.Event, clock):
        self._focus_state = focus
        self._ready_event = ready
        self._clock_fn = clock
        special = _special_names()

        def name_of(key) -> str:
            char = getattr(key, "char", None)
            if char is not None:
                return char
            return special.get(key) or str(key)  # keys outside the keymap become an ignored special key

        super().__init__(
            on_press=lambda key, injected=False: focus.key(KeyEvent(clock(), PRESS, key=name_of(key))),
            on_release=lambda key, injected=False: focus.key(KeyEvent(clock(), RELEASE, key=name_of(key))),
        )
        self.name = "ime-agent-x11-record"

    def _run(self):
        with self._receive():
            self._record()

    def _record(self) -> None:
        import Xlib.display
        import Xlib.ext.record as record

        self._display_stop = Xlib.display.Display()
        self._display_record = Xlib.display.Display()
        self._stopped = False
        ranges = [
            {"core_requests": (_CHANGE_PROPERTY, _DELETE_PROPERTY), "core_replies": (0, 0),
             "ext_requests": (0, 0, 0, 0), "ext_replies": (0, 0, 0, 0),
             "delivered_events": (_FOCUS_IN, _FOCUS_OUT), "device_events": (_KEY_PRESS, _BUTTON_PRESS),
             "errors": (0, 0), "client_started": False, "client_died": False},
            {"core_requests": (_CREATE_WINDOW, _CREATE_WINDOW), "core_replies": (0, 0),
             "ext_requests": (0, 0, 0, 0), "ext_replies": (0, 0, 0, 0), "delivered_events": (0, 0),
             "device_events": (0, 0), "errors": (0, 0), "client_started": False, "client_died": False},
            {"core_requests": (_SEND_EVENT, _SEND_EVENT), "core_replies": (0, 0),
             "ext_requests": (0, 0, 0, 0), "ext_replies": (0, 0, 0, 0), "delivered_events": (0, 0),
             "device_events": (0, 0), "errors": (0, 0), "client_started": False, "client_died": False},
            {"core_requests": (_DESTROY_WINDOW, _DESTROY_WINDOW), "core_replies": (0, 0),
             "ext_requests": (0, 0, 0, 0), "ext_replies": (0, 0, 0, 0), "delivered_events": (0, 0),
             "device_events": (0, 0), "errors": (0, 0), "client_started": False, "client_died": False},
        ]
        self._context = self._display_record.record_create_context(0, [record.AllClients], ranges)
        try:
            self._initialize(self._display_stop)
            self._mark_ready()
            self._display_record.record_enable_context(self._context, self._handler)
        except self.StopException:
            pass
        except Exception as exc:  # the connection broke: alive() turns False, the agent says so
            log.error("X11 listener stopped: %s", type(exc).__name__)
        finally:
            self._focus_state.lost()
            with contextlib.suppress(Exception):
                self._display_stop.record_disable_context(self._context)
                self._display_stop.flush()
                self._display_record.record_free_context(self._context)
            with contextlib.suppress(Exception):
                self._display_stop.close()
                self._display_record.close()

    def _handler(self, reply) -> None:
        try:
            self._dispatch(reply)
        except self.StopException:
            raise
        except Exception as exc:
            # Whatever went wrong, keep no key we cannot attribute: focus unknown, source dead.
            log.error("X11 listener: %s while reading the event stream", type(exc).__name__)
            self._focus_state.lost()
            raise self.StopException() from None

    def _dispatch(self, reply) -> None:
        if not self.running:
            raise self.StopException()
        focus = self._focus_state
        focus.drain()  # first: a query connection that died must turn focus unknown before any key
        if reply.category == _START_OF_DATA:
            focus.recover()
            self._ready_event.set()
            return
        data = reply.data
        if reply.category == _FROM_CLIENT:
            focus.request(data, reply.client_swapped)
        elif reply.category == _FROM_SERVER:
            while data and len(data) >= 32:
                kind = data[0] & 0x7F
                if kind in (_KEY_PRESS, _KEY_RELEASE):
                    event, data = self._EVENT_PARSER.parse_binary_value(data, self._display_record.display, None, None)
                    focus.server_time(event.time)
                    self._handle_message(self._display_stop, event, event.send_event)
                    continue
                if kind == _BUTTON_PRESS:
                    focus.server_time(struct.unpack_from("=4xI", data)[0])
                    focus.key(KeyEvent(self._clock_fn(), CLICK))
                elif kind in (_FOCUS_IN, _FOCUS_OUT):
                    detail, window = struct.unpack_from("=xBxxI", data)
                    focus.changed(kind == _FOCUS_IN, detail, window)
                data = data[32:]
        focus.drain()


def _special_names() -> dict:
    from pynput import keyboard

    return {key: str(key) for key in keyboard.Key}


# --- focus, from the stream ---------------------------------------------------------------


class _Focus:
    """The focus as of the current point of the stream, and the window properties behind it.

    Runs on the listener's thread only (the query connection is used from there too)."""

    def __init__(self, emit: Emit, clock):
        from Xlib import display as xdisplay

        self._emit = emit
        self._clock = clock
        self._display = xdisplay.Display()
        self._root = self._display.screen().root
        atom = self._display.intern_atom
        self._wm_class, self._wm_name = Xatom.WM_CLASS, Xatom.WM_NAME
        self._net_wm_name = atom("_NET_WM_NAME")
        self._net_active_window = atom("_NET_ACTIVE_WINDOW")
        self._net_wm_pid = atom("_NET_WM_PID")
        self._pids: OrderedDict[int, int | None] = OrderedDict()  # client window -> its process
        self._utf8 = atom("UTF8_STRING")
        self._marker_atom = atom(_MARKER_ATOM)
        self._watched = {self._wm_class, self._wm_name, self._net_wm_name}
        self.marker = self._root.create_window(-1, -1, 1, 1, 0, 0, window_class=X.InputOnly)
        self._display.flush()
        self._props: OrderedDict[int, dict] = OrderedDict()  # window -> {atom: bytes}
        self._client: int | None = None  # the focused client window, None when unknown
        self._shown: tuple | None = None
        self._check_seq = 0
        self._pending: dict[int, int | None] = {}  # marker seq -> focused client found
        self._seen_focus_since_check = False
        self._activation_pending = False  # see ACTIVATION_GRACE_MS
        self._activation_deadline: int | None = None  # server time, set by the first key after the request
        self._next_recovery = 0.0
        self.broken = False

    # -- stream input ----------------------------------------------------------------

    def server_time(self, stamp: int) -> None:
        """The next key or click was handled by the server at ``stamp`` (ms, wrapping at 2**32)."""
        if not self._activation_pending:
            return
        if self._activation_deadline is None:
            # The request itself carries no server time: counting from the first key after it can
            # only lengthen the grace, never shorten it.
            self._activation_deadline = (stamp + ACTIVATION_GRACE_MS) & 0xFFFFFFFF
        elif (stamp - self._activation_deadline) & 0xFFFFFFFF < 0x80000000:
            self._activation_pending = False  # the window manager did not act on it: focus stays
            self._activation_deadline = None
            self._show()

    def key(self, event: KeyEvent) -> None:
        if self._client is None and event.t >= self._next_recovery:
            # Focus went somewhere we were not watching (a window focused before we selected its
            # events): this key is dropped; find out, for the keys after the answer's marker.
            self._next_recovery = event.t + _RECOVERY_INTERVAL
            self.recover()
        self._emit(event)

    def changed(self, focus_in: bool, detail: int, window: int) -> None:
        if detail == _NOTIFY_INFERIOR:
            return  # focus moved within the window: same client
        self._seen_focus_since_check = True
        if not focus_in:
            if self._client is not None and self._client_of(window) == self._client:
                self._set(None)  # the FocusIn that follows (if we see one) says where it went
                self.recover()
            return
        if detail in (_NOTIFY_POINTER, _NOTIFY_POINTER_ROOT, _NOTIFY_DETAIL_NONE):
            self._set(None)  # keys follow the pointer, or go nowhere: cannot attribute them
            return
        client = self._client_of(window)
        if client is None and detail in (_NOTIFY_VIRTUAL, _NOTIFY_NONLINEAR_VIRTUAL):
            return  # an ancestor (a frame) of the real focus window, which gets its own FocusIn
        self._set(client)
        if client is None:
            self.recover()

    def request(self, data: bytes, swapped: bool) -> None:
        if not data:
            return
        order = _byte_order(swapped)
        opcode = data[0]
        if opcode == _CHANGE_PROPERTY and len(data) >= 24:
            mode = data[1]
            window, prop, kind, fmt, count = struct.unpack_from(order + "III B 3x I", data, 4)
            if window == self.marker.id and prop == self._marker_atom:
                self._checked(struct.unpack_from(order + "I", data, 24)[0] if count else -1)
            elif window == self._root.id and prop == self._net_active_window and fmt == 32 and count:
                # The window manager says another window is active. If its FocusIn was not seen (nobody
                # was watching that window yet), ask: keys stay dropped until the answer's marker.
                active = struct.unpack_from(order + "I", data, 24)[0]
                if active and self._client_of(active) != self._client:
                    self.recover()
            elif prop in self._watched and fmt == 8:
                self._store(window, prop, bytes(data[24:24 + count]), mode)
        elif opcode == _DELETE_PROPERTY and len(data) >= 12:
            window, prop = struct.unpack_from(order + "II", data, 4)
            if prop in self._watched:
                self._store(window, prop, b"", _PROP_MODE_REPLACE)
        elif opcode == _SEND_EVENT and len(data) >= 44 and data[12] & 0x7F == _CLIENT_MESSAGE:
            window, message = struct.unpack_from(order + "II", data, 16)
            if message == self._net_active_window and self._client_of(window) != self._client:
                self._activation_pending, self._activation_deadline = True, None
                self._show()
        elif opcode == _CREATE_WINDOW and len(data) >= 12:
            window, parent = struct.unpack_from(order + "II", data, 4)
            if parent == self._root.id:
                self._watch(window)
                self._flush()  # at once: the window may get focus very soon
        elif opcode == _DESTROY_WINDOW and len(data) >= 8:
            self._props.pop(struct.unpack_from(order + "I", data, 4)[0], None)

    def _flush(self) -> None:
        try:
            self._display.flush()
        except Exception:
            self._fail()

    def drain(self) -> None:
        """Discard the events our own selections bring to the query connection (never read otherwise)."""
        if self.broken:
            return
        try:
            while self._display.pending_events():
                self._display.next_event()
        except Exception:
            self._fail()

    # -- finding out ----------------------------------------------------------------

    def recover(self) -> None:
        """Watch every top-level window, ask for the focus, and mark the stream where that answer holds."""
        if self.broken:
            return
        try:
            for window in self._root.query_tree().children:
                self._watch(window.id)
                for child in window.query_tree().children:  # client windows inside frames
                    self._watch(child.id)
            focus = self._display.get_input_focus().focus
            client = self._client_of(focus.id) if hasattr(focus, "id") else None
            self._check_seq += 1
            self._pending[self._check_seq] = client
            self._seen_focus_since_check = False
            self.marker.change_property(self._marker_atom, Xatom.CARDINAL, 32, [self._check_seq])
            self._display.flush()
        except Exception:
            self._fail()

    def _checked(self, seq: int) -> None:
        client = self._pending.pop(seq, None)
        for old in [s for s in self._pending if s < seq]:
            del self._pending[old]
        # A focus change recorded after the question overrides its (older) answer.
        if seq == self._check_seq and not self._seen_focus_since_check:
            self._set(client)

    def lost(self) -> None:
        """The stream ended: from now on focus is unknown and the source is dead."""
        self.broken = True
        self._set(None)

    def _fail(self) -> None:
        log.error("X11 focus tracking failed (its connection is gone); dropping all input")
        self.lost()

    # -- windows --------------------------------------------------------------------

    def _watch(self, window: int) -> None:
        try:
            self._display.create_resource_object("window", window).change_attributes(
                event_mask=X.FocusChangeMask)
        except _BAD_WINDOW:
            pass  # gone already
        except Exception:
            self._fail()

    def _store(self, window: int, prop: int, value: bytes, mode: int) -> None:
        props = self._props.setdefault(window, {})
        self._props.move_to_end(window)
        old = props.get(prop, b"")
        props[prop] = value if mode == _PROP_MODE_REPLACE else (value + old if mode == _PROP_MODE_PREPEND else old + value)
        while len(self._props) > _CACHE_WINDOWS:
            self._props.popitem(last=False)
        if window == self._client:
            self._show()

    def _prop(self, window: int, prop: int) -> bytes | None:
        props = self._props.get(window)
        if props is not None and prop in props:
            return props[prop]
        try:
            reply = self._display.create_resource_object("window", window).get_full_property(
                prop, X.AnyPropertyType)
        except _BAD_WINDOW:
            return None
        except Exception:
            self._fail()
            return None
        value = bytes(reply.value) if reply is not None and reply.format == 8 else b""
        self._props.setdefault(window, {})[prop] = value
        return value

    def _client_of(self, window: int) -> int | None:
        """The client window (the one with an app id) that ``window`` is, or is inside."""
        for _ in range(32):  # window trees are shallow; a loop here means a broken tree
            if window in (0, self._root.id):
                return None
            if self._prop(window, self._wm_class):
                return window
            try:
                window = self._display.create_resource_object("window", window).query_tree().parent.id
            except _BAD_WINDOW:
                return None
            except Exception:
                self._fail()
                return None
        return None

    def _set(self, client: int | None) -> None:
        self._client = client
        self._activation_pending, self._activation_deadline = False, None
        self._show()

    def _show(self) -> None:
        if self._client is None:
            shown: tuple = (None, "")
        else:
            wm_class = self._prop(self._client, self._wm_class) or b""
            # Both title properties, when they differ: a prompt that renamed only one of them
            # ("Sign in") must still be seen by the guards.
            titles = [_decode(self._prop(self._client, atom) or b"") for atom in (self._net_wm_name, self._wm_name)]
            shown = (_app_id(wm_class), " | ".join(dict.fromkeys(t for t in titles if t)))
        # The process too: two windows of one app with one title are still two windows (their
        # accessibility fields are told apart by it).
        shown += (self._activation_pending, self._pid(self._client))
        if shown != self._shown:
            self._shown = shown
            app, title, pending, pid = shown
            # Pending activation is reported as a secure field: the guards drop, the tray says so.
            self._emit(KeyEvent(self._clock(), FOCUS, app=app or "unknown", title=title, secure=pending, pid=pid))

    def _pid(self, window: int | None) -> int | None:
        """The client's process (EWMH ``_NET_WM_PID``), to match its window with its accessibility app."""
        if window is None:
            return None
        if window not in self._pids:
            try:
                prop = self._display.create_resource_object("window", window).get_full_property(
                    self._net_wm_pid, X.AnyPropertyType)
                self._pids[window] = int(prop.value[0]) if prop is not None and prop.format == 32 and len(prop.value) else None
            except _BAD_WINDOW:
                return None
            except Exception:
                self._fail()
                return None
            while len(self._pids) > _CACHE_WINDOWS:
                self._pids.popitem(last=False)
        return self._pids[window]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._display.close()


def _byte_order(swapped: bool) -> str:
    native = "<" if sys.byteorder == "little" else ">"
    return ({"<": ">", ">": "<"}[native]) if swapped else native


def _decode(title: bytes) -> str:
    """_NET_WM_NAME is UTF-8; WM_NAME is Latin-1 (or UTF-8 from some toolkits)."""
    try:
        return title.decode("utf-8")
    except UnicodeDecodeError:
        return title.decode("latin-1")


def _app_id(wm_class: bytes) -> str | None:
    """``WM_CLASS`` is "instance\\0class\\0"; the class names the app."""
    parts = [p.decode("latin-1") for p in wm_class.split(b"\0") if p]
    if not parts:
        return None
    return (parts[1] if len(parts) > 1 else parts[0]).lower() or None

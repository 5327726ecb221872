"""Live capture on Linux through the accessibility bus (AT-SPI over D-Bus).

Text fields of GTK, Qt, browsers and most toolkits report to the accessibility
bus which widget has keyboard focus (with its role: ``password text`` for a
password field) and every change of their text, whatever produced it: typing,
an input method's commit (Chinese from IBus or Fcitx arrives as one insert), a
paste. This source turns those reports into format v2 events (field / insert /
delete / caret, docs/key-events.md). It runs beside the keyboard hook on X11
and alone on Wayland, where nothing else can observe input.

It is a plain D-Bus client (jeepney, pure Python): no PyGObject, no build
headers. Apps send events only once a client asked the registry for them, so
the source calls the registry's ``RegisterEvent`` itself. Per-accessible
queries (role, attributes, the app's name and process) are cached, so an edit
costs no round trip once its field is known.

Fail closed: a field whose role, state or attributes cannot be read is secure;
the text of a secure field is dropped before any event is built, whatever its
toolkit puts in the report (Qt sends a password field's plaintext). When the
bus goes away, the source emits a secure field without a process (which covers
every window: everything after it is dropped) and :meth:`AtspiSource.alive`
turns false. The source never listens to the input method's own bus.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from typing import Callable

from ime_agent.capture._base import (
    CARET, DELETE, FIELD, INSERT, KNOWS_SECURE_FIELDS, REPORTS_FOCUS, REPORTS_TEXT, Emit, KeyEvent,
)
from ime_agent.errors import BackendUnavailable

NAME = "atspi"

log = logging.getLogger(__name__)

Clock = Callable[[], float]

ROLE_PASSWORD_TEXT = 40  # AtspiRole; decide by number: Qt 5 names a password field "text"
PASSWORD_ROLE_NAME = "password text"
# Object attributes by which apps mark a field secret without the password role
# (browsers expose an <input type=password> this way too).
SECURE_ATTRIBUTES = frozenset((("text-input-type", "password"),))
UNKNOWN_ROLE = "unknown"

# AtspiStateType bits (in the first word of GetState's answer)
_STATE_ACTIVE, _STATE_EDITABLE, _STATE_FOCUSED, _STATE_SHOWING = 1, 7, 12, 25
_MAX_WALK = 2000  # objects visited looking for the focus at start
_WINDOW_ROLES = frozenset(("frame", "window", "dialog", "alert", "file chooser"))
_QUERY_TIMEOUT = 1.0  # seconds an app may take to answer before its field counts as secure
_MAX_DEPTH = 32  # parents walked up from a field to its window

_A11Y_BUS = ("org.a11y.Bus", "/org/a11y/bus")
_REGISTRY = ("org.a11y.atspi.Registry", "/org/a11y/atspi/registry", "org.a11y.atspi.Registry")
_ACCESSIBLE = "org.a11y.atspi.Accessible"
_EVENTS = ("object:state-changed:focused", "object:text-changed", "object:text-caret-moved")
_OBJECT_EVENTS = "org.a11y.atspi.Event.Object"


class _Unreadable(Exception):
    """An app did not answer a query (timeout, error reply, gone)."""


def _session_connection():
    from jeepney.io.blocking import open_dbus_connection

    try:
        return open_dbus_connection("SESSION")
    except KeyError:
        raise BackendUnavailable(
            "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set (run inside a desktop session)"
        ) from None
    except (OSError, RuntimeError, TimeoutError) as exc:
        raise BackendUnavailable(f"cannot reach the D-Bus session bus ({type(exc).__name__})") from None


def _call(conn, bus_name: str, path: str, interface: str, method: str, signature: str | None = None,
          body: tuple = (), timeout: float = _QUERY_TIMEOUT):
    from jeepney import DBusAddress, MessageType, new_method_call

    message = new_method_call(DBusAddress(path, bus_name=bus_name, interface=interface), method,
                              signature, body)
    try:
        reply = conn.send_and_get_reply(message, timeout=timeout)
    except TimeoutError:
        raise _Unreadable(f"{method}: no answer") from None
    if reply.header.message_type == MessageType.error:
        raise _Unreadable(f"{method}: {reply.header.fields.get(4, 'error')}")
    return reply.body


def _get_property(conn, bus_name: str, path: str, interface: str, name: str):
    (value,) = _call(conn, bus_name, path, "org.freedesktop.DBus.Properties", "Get", "ss", (interface, name))
    return value[1]  # a variant: (signature, value)


def accessibility_bus_address(session=None) -> str:
    """The accessibility bus's address, from the session bus's org.a11y.Bus."""
    conn = session or _session_connection()
    try:
        (address,) = _call(conn, *_A11Y_BUS, "org.a11y.Bus", "GetAddress", timeout=5)
    except _Unreadable:
        raise BackendUnavailable(
            "no accessibility bus on this session (install at-spi2-core; it starts with the desktop)"
        ) from None
    finally:
        if session is None:
            conn.close()
    return address


def check() -> None:
    """Raise BackendUnavailable unless an accessibility bus is reachable."""
    accessibility_bus_address()


# -- the desktop's accessibility flag -----------------------------------------


def enable_accessibility() -> bool | None:
    """Turn the desktop's accessibility flag on (``org.a11y.Status.IsEnabled``), as a
    screen reader does, so that toolkits such as Qt join the bus. Returns the
    user's previous setting for :func:`restore_accessibility` (None if unknown:
    no session bus or no accessibility bus)."""
    try:
        conn = _session_connection()
    except BackendUnavailable:
        return None
    try:
        previous = bool(_get_property(conn, *_A11Y_BUS, "org.a11y.Status", "IsEnabled"))
        if not previous:
            _set_enabled(conn, True)
        return previous
    except _Unreadable:
        return None
    finally:
        conn.close()


def restore_accessibility(previous: bool | None) -> None:
    """Put the flag back as :func:`enable_accessibility` found it (only ever turns it off)."""
    if previous is not False:
        return
    try:
        conn = _session_connection()
    except BackendUnavailable:
        return
    try:
        _set_enabled(conn, False)
    except _Unreadable:
        log.warning("could not restore the accessibility setting")
    finally:
        conn.close()


def _set_enabled(conn, value: bool) -> None:
    _call(conn, *_A11Y_BUS, "org.freedesktop.DBus.Properties", "Set", "ssv",
          ("org.a11y.Status", "IsEnabled", ("b", value)))


# -- the source ------------------------------------------------------------------


class _Field:
    """What the source knows about one accessible object (cached)."""

    __slots__ = ("role", "secure", "window")

    def __init__(self, role: str, secure: bool, window: str | None):
        self.role, self.secure, self.window = role, secure, window


class AtspiSource:
    """Focus and text edits of the focused field, from the accessibility bus.

    The interface every capture source shares: ``name``, ``start(emit)`` (returns
    once listening; ``emit`` is called from the source's thread), ``stop()``,
    ``alive()`` and capability flags.
    """

    name = NAME
    # It tells secure (password) fields by their role, and reports what text fields contain.
    capabilities = frozenset({KNOWS_SECURE_FIELDS, REPORTS_FOCUS, REPORTS_TEXT})

    def __init__(self, clock: Clock = time.monotonic):
        self._clock = clock
        self._conn = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lost = threading.Event()
        self._emit: Emit | None = None
        self._fields: dict[tuple[str, str], _Field] = {}
        self._apps: dict[str, tuple[str, str | None, int | None]] = {}
        self._focused: tuple[str, str] | None = None
        self._focused_field: _Field | None = None
        self._reports_text = False

    # -- lifecycle ------------------------------------------------------------

    def start(self, emit: Emit) -> None:
        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        address = accessibility_bus_address()
        try:
            conn = open_dbus_connection(address)
        except (OSError, RuntimeError, TimeoutError) as exc:
            raise BackendUnavailable(f"cannot connect to the accessibility bus ({type(exc).__name__})") from None
        self._signals: deque = deque()
        self._filter = conn.filter(MatchRule(type="signal", interface=_OBJECT_EVENTS), queue=self._signals)
        try:
            for member in ("StateChanged", "TextChanged", "TextCaretMoved"):
                rule = MatchRule(type="signal", interface=_OBJECT_EVENTS, member=member)
                if member == "StateChanged":
                    rule.add_arg_condition(0, "focused")
                conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=5)
            for event in _EVENTS:
                self._register(conn, event)
        except (_Unreadable, OSError, TimeoutError) as exc:
            conn.close()
            raise BackendUnavailable(
                f"the accessibility registry does not answer ({type(exc).__name__}): check at-spi2-core"
            ) from None
        self._conn = conn
        self._emit = emit
        try:
            self._discover_focus()
        except (OSError, TimeoutError) as exc:
            conn.close()
            raise BackendUnavailable(f"the accessibility bus closed while starting ({type(exc).__name__})") from None
        self._thread = threading.Thread(target=self._run, name="ime-agent-atspi", daemon=True)
        self._thread.start()

    def _discover_focus(self) -> None:
        """Fields already focused when capture starts (their focus events went by
        unheard): in every app with an active window, the focused object found by
        a bounded walk; an app whose focus cannot be found gets a secure field
        until its next focus event."""
        try:
            (apps,) = _call(self._conn, "org.a11y.atspi.Registry", "/org/a11y/atspi/accessible/root",
                            _ACCESSIBLE, "GetChildren")
        except _Unreadable:
            return
        for sender, root in apps:
            try:
                (windows,) = _call(self._conn, sender, root, _ACCESSIBLE, "GetChildren")
                active = [w for w in windows if self._states(w) & (1 << _STATE_ACTIVE)]
            except (_Unreadable, ValueError, TypeError):
                continue
            if not active:
                continue
            focused = self._focused_in(active)
            if focused is not None:
                self._focus(focused)
                continue
            app, toolkit, pid = self._app(sender)
            self._emit(KeyEvent(self._clock(), FIELD, app=app, title="", role=UNKNOWN_ROLE, toolkit=toolkit,
                                pid=pid, secure=True, reports_text=False))

    def _focused_in(self, windows: list) -> tuple[str, str] | None:
        """The focused object under these windows, breadth first, at most _MAX_WALK objects."""
        queue, seen = deque((w[0], w[1]) for w in windows), 0
        while queue and seen < _MAX_WALK:
            node = queue.popleft()
            seen += 1
            try:
                states = self._states(node)
                if states & (1 << _STATE_FOCUSED):
                    return node
                if node[1] != windows[0][1] and not states & (1 << _STATE_SHOWING):
                    continue
                (children,) = _call(self._conn, node[0], node[1], _ACCESSIBLE, "GetChildren")
            except (_Unreadable, ValueError, TypeError):
                return None
            queue.extend((c[0], c[1]) for c in children)
        return None

    @staticmethod
    def _register(conn, event: str) -> None:
        try:
            _call(conn, *_REGISTRY, "RegisterEvent", "sass", (event, [], ""), timeout=5)
        except _Unreadable:  # registries before at-spi2-core 2.40 take the event name alone
            _call(conn, *_REGISTRY, "RegisterEvent", "s", (event,), timeout=5)

    def stop(self) -> None:
        self._stopping.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        if conn is not None:
            conn.close()

    def alive(self) -> bool:
        """False once the accessibility bus went away (or before start)."""
        return self._thread is not None and self._thread.is_alive() and not self._lost.is_set()

    def _run(self) -> None:
        conn = self._conn
        try:
            while not self._stopping.is_set():
                message = conn.recv_until_filtered(self._signals)
                self._handle(message)
        except Exception as exc:  # the bus closed (or broke): fail closed
            if not self._stopping.is_set():
                log.warning("accessibility bus lost (%s): dropping input until restart", type(exc).__name__)
                self._lose()

    def _lose(self) -> None:
        self._focused = None
        self._lost.set()
        self._emit(KeyEvent(self._clock(), FIELD, app="unknown", title="", role=UNKNOWN_ROLE, secure=True))

    # -- events -------------------------------------------------------------------

    def _handle(self, message) -> None:
        fields = message.header.fields
        member, sender, path = fields.get(3), fields.get(7), fields.get(1)
        detail, detail1, detail2, data = message.body[:4]
        key = (sender, path)
        if member == "StateChanged":
            # Focus lost needs nothing: the next focus (here or in another app) replaces
            # it, and toolkits that drop and regain focus in place stay one field.
            if detail1:
                self._focus(key)
            return
        if key != self._focused:
            if self._focused is not None or member != "TextChanged" or not self._adopt(key):
                return
        if not self._reports_text:
            return  # a secure field's text never becomes an event; a read-only one has none
        if member == "TextChanged":
            if detail.startswith("insert"):
                text = data[1]
                if isinstance(text, str) and text:
                    self._emit(KeyEvent(self._clock(), INSERT, offset=detail1, text=text))
            elif detail.startswith("delete"):
                self._emit(KeyEvent(self._clock(), DELETE, offset=detail1, length=detail2))
        elif member == "TextCaretMoved":
            self._emit(KeyEvent(self._clock(), CARET, offset=detail1))

    def _adopt(self, key: tuple[str, str]) -> bool:
        """An edit from an unknown object while no focus is known (the agent started
        with a field already focused): take it as the focus if it says it is."""
        try:
            states = self._states(key)
        except _Unreadable:
            return False
        if not states & (1 << _STATE_FOCUSED):
            return False
        self._focus(key)
        return key == self._focused

    def _focus(self, key: tuple[str, str]) -> None:
        if key == self._focused:
            return  # toolkits repeat focus events
        sender, path = key
        field = self._field(key)
        try:
            editable = bool(self._states(key) & (1 << _STATE_EDITABLE))
        except _Unreadable:
            field = _Field(field.role, True, field.window)
        app, toolkit, pid = self._app(sender)
        title = self._title(sender, field.window)
        self._focused = key
        self._focused_field = field
        self._reports_text = editable and not field.secure
        self._emit(KeyEvent(self._clock(), FIELD, app=app, title=title, role=field.role, toolkit=toolkit,
                            pid=pid, secure=field.secure, reports_text=self._reports_text))

    # -- queries (cached per object / per app) --------------------------------------

    def _field(self, key: tuple[str, str]) -> _Field:
        field = self._fields.get(key)
        if field is None:
            sender, path = key
            try:
                (number,) = _call(self._conn, sender, path, _ACCESSIBLE, "GetRole")
                (name,) = _call(self._conn, sender, path, _ACCESSIBLE, "GetRoleName")
                (attributes,) = _call(self._conn, sender, path, _ACCESSIBLE, "GetAttributes")
            except _Unreadable:
                field = _Field(UNKNOWN_ROLE, True, None)  # role unknown: fail closed
            else:
                password = number == ROLE_PASSWORD_TEXT or name == PASSWORD_ROLE_NAME
                marked = any((k.casefold(), v.casefold()) in SECURE_ATTRIBUTES for k, v in attributes.items())
                field = _Field(PASSWORD_ROLE_NAME if password else name, password or marked,
                               self._window_of(sender, path))
            self._fields[key] = field
        return field

    def _states(self, key) -> int:
        sender, path = key
        (words,) = _call(self._conn, sender, path, _ACCESSIBLE, "GetState")
        return words[0] if words else 0

    def _app(self, sender: str) -> tuple[str, str | None, int | None]:
        app = self._apps.get(sender)
        if app is None:
            root = "/org/a11y/atspi/accessible/root"
            try:
                name = _get_property(self._conn, sender, root, _ACCESSIBLE, "Name") or "unknown"
            except _Unreadable:
                name = "unknown"
            try:
                toolkit = _get_property(self._conn, sender, root, "org.a11y.atspi.Application", "ToolkitName")
            except _Unreadable:
                toolkit = None
            try:
                (pid,) = _call(self._conn, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "GetConnectionUnixProcessID", "s", (sender,))
            except _Unreadable:
                pid = None
            app = (name, toolkit, pid)
            self._apps[sender] = app
        return app

    def _window_of(self, sender: str, path: str) -> str | None:
        """The path of the frame / dialog holding a field (for its title), or None."""
        for _ in range(_MAX_DEPTH):
            try:
                parent_sender, parent = _get_property(self._conn, sender, path, _ACCESSIBLE, "Parent")
                if parent_sender != sender or parent in ("/org/a11y/atspi/null", "/org/a11y/atspi/accessible/root"):
                    return None
                (role,) = _call(self._conn, sender, parent, _ACCESSIBLE, "GetRoleName")
            except (_Unreadable, ValueError, TypeError):
                return None
            if role in _WINDOW_ROLES:
                return parent
            path = parent
        return None

    def _title(self, sender: str, window: str | None) -> str:
        if window is None:
            return ""
        try:
            return _get_property(self._conn, sender, window, _ACCESSIBLE, "Name") or ""
        except _Unreadable:
            return ""


def source(clock: Clock = time.monotonic) -> AtspiSource:
    """The accessibility source; call :func:`check` first to fail early with the fix."""
    return AtspiSource(clock)

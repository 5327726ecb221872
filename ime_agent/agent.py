"""The running agent (``ime-agent run``): live capture → pipeline → store, behind the tray icon.

Threads, and why:

- the tray icon's loop runs on the main thread (macOS requires it);
- the capture backend's listeners and :class:`LiveCapture`'s reconstruction thread
  only hand finished segments to the agent's queue;
- one worker thread classifies and stores them, and reconciles the agent with the
  store at least every :data:`POLL_SECONDS`: consent given or withdrawn and pause or
  resume from a terminal (another process, same profile) take effect within a second;
- windows (consent, review, delete) each run on a thread of their own.

Capture runs only while the icon is shown and some category is consented (before
consent no backend is even started), and drops every key while the profile is paused.
The tray reads the agent's state from cached values, so drawing the menu never waits
on the database.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable, NamedTuple

from ime_agent import consent, icons
from ime_agent.capture._base import Segment
from ime_agent.capture.guards import Guards
from ime_agent.capture.live import LiveCapture
from ime_agent.config import Config
from ime_agent.errors import ImeAgentError
from ime_agent.pipeline import Pipeline
from ime_agent.store import Store

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often the store is checked for changes made by another process
FULL_SYNC_SECONDS = 5.0  # and re-read even without one (a timed pause ending, a new day)
RETENTION_EVERY_SECONDS = 3600.0
_WAKE = object()
_STOP = object()
_LOAD_CLASSIFIER = object()


class _Barrier(threading.Event):
    """Set by the worker once everything queued before it is handled and the store re-read."""


@dataclass(frozen=True)
class Windows:
    """The agent's dialogs; tests swap them for scripted answers."""

    ask_consent: Callable[[dict[str, bool]], dict[str, bool] | None]
    review: Callable[[list, Callable[[], object]], None]
    confirm_delete: Callable[[], bool]

    @classmethod
    def tk(cls) -> "Windows":
        from ime_agent.consent_window import ask_consent
        from ime_agent.review_window import ReviewWindow, ask_delete_everything

        return cls(
            ask_consent=lambda current: ask_consent(initial=current),
            review=lambda summaries, delete_all: ReviewWindow(summaries, delete_all).run(),
            confirm_delete=ask_delete_everything,
        )


def default_source():
    """The live event source of this system's capture backend."""
    from ime_agent.capture import backend

    return backend().source()


class _Captured(NamedTuple):
    """A segment, with the wall-clock time its capture's monotonic clock counts from."""

    segment: Segment
    wall_offset: float


class Agent:
    """The tray's :class:`~ime_agent.tray.AgentControl`, and the owner of capture."""

    def __init__(self, config: Config, store: Store, *, classifier=None,
                 source_factory: Callable[[], object] = default_source,
                 windows: Windows | None = None,
                 icon_shown: Callable[[], bool] = lambda: True):
        self.config = config
        self.store = store
        self.pipeline = Pipeline(store, classifier, on_commit=self._committed)
        self._source_factory = source_factory
        self._windows = windows
        self._icon_shown = icon_shown
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._work, name="ime-agent-worker", daemon=True)
        self._notifier = threading.Thread(target=self._notify_loop, name="ime-agent-notify", daemon=True)
        self._changed = threading.Event()
        self._live: LiveCapture | None = None
        self._capture_lock = threading.Lock()  # the worker starts capture; stop() may race it
        self._pause_lock = threading.Lock()  # a tray pause and the worker's re-read of the store
        self._stop_lock = threading.Lock()
        self._window_lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._stopped = threading.Event()
        # What the tray shows; written by the worker only.
        self._state = icons.CONSENT
        self._status = "starting"
        self._capture_error: str | None = None  # capture could not start: it is off
        self._segment_error: str | None = None  # the last segment could not be summarised
        self._store_error: str | None = None  # the last re-read of the store failed
        self._granted: tuple[str, ...] = ()
        self._paused_until: datetime | None = None
        self._today = 0
        self.focus: tuple[str | None, bool] = (None, False)  # (app id, blocked by a guard)
        self._last_retention = time.monotonic()  # Store.open has just applied it
        self.committed = 0  # summaries stored since start

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._notifier.start()
        self._sync()
        self._worker.start()
        self._queue.put(_LOAD_CLASSIFIER)  # now, not on the first segment: the first Enter stays quick

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever state or status changes, from one notifier thread: the
        tray marshals updates to its loop and waits, so the worker never calls it directly."""
        self._listeners.append(listener)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop capture, store what it still had buffered, and wait for the worker to finish."""
        with self._stop_lock:
            first = not self._stopped.is_set()
            self._stopped.set()
        if first:
            try:
                self._stop_capture()  # its last segment is queued before the worker's stop
            finally:
                self._queue.put(_STOP)
                self._changed.set()
        if self._worker.is_alive() and self._worker is not threading.current_thread():
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.error("the worker did not finish within %.0fs", timeout)

    def wait_synced(self, timeout: float = 5.0) -> bool:
        """Block until the worker has handled everything queued so far and re-read the store."""
        done = _Barrier()
        self._queue.put(done)
        return self._stopped.is_set() or done.wait(timeout)

    def _settle(self) -> None:
        """After a tray action: let the worker apply it, so the icon the user sees next is right."""
        if threading.current_thread() is not self._worker:
            self.wait_synced(timeout=2.0)

    # -- AgentControl: read by the tray ----------------------------------------------------

    def state(self) -> str:
        return self._state

    def status_line(self) -> str:
        return self._status

    @property
    def capturing(self) -> bool:
        live = self._live
        return live is not None and not live.paused

    # -- AgentControl: actions from the tray -----------------------------------------------

    def pause(self, seconds: float | None) -> None:
        with self._pause_lock:
            try:
                self.store.pause(seconds)  # first: a pause that is not recorded would undo itself
            except ImeAgentError as exc:
                self._store_error = str(exc)
            live = self._live
            if live is not None:
                live.pause()  # at once, even if the store could not record it
        self._settle()

    def resume(self) -> None:
        try:
            self.store.resume()
        except ImeAgentError as exc:
            self._store_error = str(exc)
        self._settle()

    def review(self) -> None:
        self._in_window(lambda w: w.review(self.store.summaries(), self._delete_all))

    def open_consent(self) -> None:
        def ask(windows: Windows) -> None:
            choices = windows.ask_consent(consent.current(self.store))
            if choices is not None:
                consent.apply_choices(self.store, choices)
                self._wake()

        self._in_window(ask)

    def delete_data(self) -> None:
        self._in_window(lambda w: w.confirm_delete() and self._delete_all())

    def quit(self) -> None:
        self.stop()

    # -- internals -----------------------------------------------------------------------

    def _delete_all(self) -> int:
        deleted = self.store.forget(everything=True)
        self._wake()
        return deleted

    def _in_window(self, show: Callable[[Windows], object]) -> None:
        """Run a dialog on its own thread; one at a time (a second request is ignored)."""
        if not self._window_lock.acquire(blocking=False):
            return

        def run() -> None:
            try:
                if self._windows is None:
                    self._windows = Windows.tk()
                show(self._windows)
            except Exception as exc:  # a dialog failing must not take capture down
                log.error("window failed: %s", type(exc).__name__)
            finally:
                self._window_lock.release()

        threading.Thread(target=run, name="ime-agent-window", daemon=True).start()

    def _wake(self) -> None:
        self._queue.put(_WAKE)

    def _focused(self, app: str | None, blocked: bool) -> None:
        if (app, blocked) != self.focus:
            self.focus = (app, blocked)
            self._wake()  # the status line says when this window is not captured

    def _committed(self, _summary_id: str) -> None:
        self.committed += 1

    def _work(self) -> None:
        seen_version, next_full_sync = None, 0.0
        while True:
            try:
                item = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                item = None
                try:
                    version = self.store.data_version()
                except ImeAgentError:
                    version = None
                if version == seen_version and time.monotonic() < next_full_sync:
                    continue  # nobody else wrote to the store: nothing to re-read
                seen_version = version
            if item is _STOP:
                self._drain()
                return
            self._guarded(self._handle, item)
            self._guarded(self._sync)  # after every item too: a commit or a tray action shows at once
            next_full_sync = time.monotonic() + FULL_SYNC_SECONDS
            if isinstance(item, _Barrier):
                item.set()

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Barrier):
                item.set()
            elif item is not _STOP:
                self._guarded(self._handle, item)

    def _guarded(self, step: Callable, *args) -> None:
        """Run a worker step; whatever fails, the worker lives on and the tray says so
        (until the same step next succeeds)."""
        try:
            step(*args)
        except Exception as exc:  # only the type: a message could quote typed text
            log.error("worker: %s in %s", type(exc).__name__, step.__name__)
            problem = f"internal error ({type(exc).__name__})"
            if step == self._sync:
                self._store_error = problem
            else:
                self._segment_error = problem
            self._guarded_publish()

    def _guarded_publish(self) -> None:
        try:
            self._publish()
        except Exception as exc:
            log.error("worker: %s in _publish", type(exc).__name__)

    def _handle(self, item) -> None:
        if item is _LOAD_CLASSIFIER:
            try:
                self.pipeline.classifier
                log.info("classifier loaded")
            except ImeAgentError as exc:
                self._segment_error = str(exc)
        elif isinstance(item, _Captured):
            start = datetime.fromtimestamp(item.wall_offset, UTC)
            try:
                self.pipeline.process_segment(item.segment, start)
            except ImeAgentError as exc:
                self._segment_error = str(exc)
                log.error("%s", exc)
            else:
                self._segment_error = None

    def _sync(self) -> None:
        """Make capture and the tray match the store: consent, pause, retention, counts."""
        with self._pause_lock:
            try:
                self._granted = consent.consented(self.store)
                paused = self.store.paused_state()
                if time.monotonic() - self._last_retention > RETENTION_EVERY_SECONDS:
                    self.store.apply_retention()
                    self._last_retention = time.monotonic()
                self._today = self.store.today_count()
            except ImeAgentError as exc:
                self._store_error = str(exc)
            else:
                self._store_error = None
                self._paused_until = paused.until
                if not self._granted or self._stopped.is_set() or not self._icon_shown():
                    self._stop_capture()
                elif self._capture_error is None:
                    self._start_capture()
                live = self._live
                if live is not None:
                    if paused.paused and not live.paused:
                        live.pause()
                    elif not paused.paused and live.paused:
                        live.resume()
        self._publish()

    def _start_capture(self) -> None:
        with self._capture_lock:
            if self._live is None and not self._stopped.is_set():
                self._live = self._new_capture()

    def _new_capture(self) -> LiveCapture | None:
        live: LiveCapture | None = None
        try:
            live = LiveCapture(self._source_factory(),
                               lambda segment: self._queue.put(_Captured(segment, live.wall_offset)),
                               guards=Guards.from_config(self.config), idle_commit=self.config.idle_commit,
                               on_focus=self._focused)
            live.pause_state.paused = True  # _sync resumes it unless the profile is paused
            live.start()
        except ImeAgentError as exc:
            self._capture_error = str(exc)
        except Exception as exc:  # a backend failing in its own way: name it, keep the tray up
            self._capture_error = f"capture unavailable ({type(exc).__name__})"
        else:
            log.info("capture started")
            return live
        log.error("capture unavailable: %s", self._capture_error)
        return None

    def _stop_capture(self) -> None:
        with self._capture_lock:
            live, self._live = self._live, None
        if live is not None:
            try:
                live.stop()
            except Exception as exc:  # e.g. the X server went away first (logout)
                log.error("stopping capture: %s", type(exc).__name__)
            log.info("capture stopped")

    def _publish(self) -> None:
        live = self._live
        problem = self._store_error or self._segment_error
        if self._capture_error is not None:
            state, status = icons.ERROR, f"capture is off: {self._capture_error}"
        elif live is None and self._granted and not self._icon_shown():
            state, status = icons.ERROR, "capture is off: no system tray to show the icon in"
        elif not self._granted:
            state, status = icons.CONSENT, "nothing is captured until you consent (Consent…)"
        elif live is not None and live.paused:
            until = self._paused_until
            state = icons.PAUSED
            status = f"paused until {until.astimezone():%H:%M}" if until else "paused until you resume"
        else:
            state, status = icons.CAPTURING, f"capturing {', '.join(self._granted)}"
            if self.focus[1]:
                status += " (not in this window: password prompt or excluded app)"
        if problem is not None and state != icons.ERROR:
            state, status = icons.ERROR, f"{status}; problem: {problem}"
        status += f"; {self._today} {'summary' if self._today == 1 else 'summaries'} today"
        if (state, status) != (self._state, self._status):
            self._state, self._status = state, status
            self._changed.set()

    def _notify_loop(self) -> None:
        while True:
            self._changed.wait()
            self._changed.clear()
            if self._stopped.is_set():
                return
            for listener in self._listeners:
                try:
                    listener()
                except Exception as exc:
                    log.error("state listener: %s", type(exc).__name__)


def run(config: Config, prompt: Callable[[bool], str | None] | None = None) -> None:
    """``ime-agent run``: one agent per profile, with its tray icon, until Quit or a signal.

    ``prompt`` asks for the passphrase of a passphrase profile (from a terminal); started at
    login there is none, and ``IME_AGENT_PASSPHRASE`` must be set instead."""
    import signal

    from ime_agent import instance
    from ime_agent.tray import Tray, check_display

    check_display()
    # thinc imports torch whenever it is installed (an evaluation extra); the agent never
    # uses it, and it would add ~300 MB to a process that runs all day.
    sys.modules.setdefault("torch", None)  # type: ignore[arg-type]
    with instance.acquire(config.data_dir):
        store = Store.open(config.data_dir, prompt=prompt, retention_days=config.retention_days)
        try:
            agent = Agent(config, store, icon_shown=lambda: tray.shown)
            tray = Tray(agent)
            agent.on_change(tray.refresh)

            def shutdown() -> None:
                agent.stop()
                tray.stop()

            # The handler runs on the tray's loop thread; stopping the tray waits on that loop.
            for signum in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
                signal.signal(signum, lambda *_: threading.Thread(target=shutdown, daemon=True).start())

            def shown(_tray) -> None:
                log.info("tray icon shown")
                agent.start()  # only now: capture never runs without the icon saying so
                if agent.state() == icons.CONSENT:
                    agent.open_consent()  # first run: ask before anything is captured

            try:
                tray.run(setup=shown)
            finally:
                agent.stop()  # waits until everything captured is stored
        finally:
            store.close()

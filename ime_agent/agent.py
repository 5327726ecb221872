"""The running agent (``ime-agent run``): live capture → pipeline → store, behind the tray icon.

Threads, and why:

- the tray icon's loop runs on the main thread (macOS requires it);
- the capture backend's listeners and :class:`LiveCapture`'s reconstruction thread
  only hand finished segments to the agent's queue;
- one worker thread classifies and stores them, and reconciles the agent with the
  store at least every :data:`POLL_SECONDS`: consent given or withdrawn and pause or
  resume from a terminal (another process, same profile) take effect within a second;
- windows (consent, review, delete) each run on a thread of their own.

Capture runs only while some category is consented and the profile is not paused:
before consent no backend is even started. The tray reads the agent's state from
cached values, so drawing the menu never waits on the database.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable

from ime_agent import consent, icons
from ime_agent.capture._base import Segment
from ime_agent.capture.guards import Guards
from ime_agent.capture.live import LiveCapture
from ime_agent.config import Config
from ime_agent.errors import ImeAgentError
from ime_agent.pipeline import Pipeline
from ime_agent.store import Store

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
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


class Agent:
    """The tray's :class:`~ime_agent.tray.AgentControl`, and the owner of capture."""

    def __init__(self, config: Config, store: Store, *, classifier=None,
                 source_factory: Callable[[], object] = default_source,
                 windows: Windows | None = None):
        self.config = config
        self.store = store
        self.pipeline = Pipeline(store, classifier, on_commit=self._committed)
        self._source_factory = source_factory
        self._windows = windows
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._work, name="ime-agent-worker", daemon=True)
        self._live: LiveCapture | None = None
        self._capture_lock = threading.Lock()  # the worker starts capture; stop() may race it
        self._window_lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._stopped = threading.Event()
        # What the tray shows; written by the worker only.
        self._state = icons.CONSENT
        self._status = "starting"
        self._error: str | None = None
        self._granted: tuple[str, ...] = ()
        self._paused_until: datetime | None = None
        self._today = 0
        self.focus: tuple[str | None, bool] = (None, False)  # (app id, blocked by a guard)
        self._last_retention = 0.0
        self.committed = 0  # summaries stored since start (for tests and status)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._sync()
        self._worker.start()
        self._queue.put(_LOAD_CLASSIFIER)  # now, not on the first segment: the first Enter stays quick

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the worker thread) whenever state or status changes."""
        self._listeners.append(listener)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop capture, store what it still had buffered, and end the worker."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._stop_capture()  # its last segment is queued before the worker's stop
        self._queue.put(_STOP)
        if self._worker.is_alive() and self._worker is not threading.current_thread():
            self._worker.join(timeout)

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
        if self._live is not None:
            self._live.pause()  # at once; the store makes it last and tells the CLI
        self.store.pause(seconds)
        self._settle()

    def resume(self) -> None:
        self.store.resume()
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

    def _on_segment(self, segment: Segment) -> None:
        self._queue.put(segment)  # on the reconstruction thread: hand over, nothing more

    def _focused(self, app: str | None, blocked: bool) -> None:
        if (app, blocked) != self.focus:
            self.focus = (app, blocked)
            self._wake()  # the status line says when this window is not captured

    def _committed(self, _summary_id: str) -> None:
        self.committed += 1

    def _work(self) -> None:
        next_sync = time.monotonic() + POLL_SECONDS
        while True:
            try:
                item = self._queue.get(timeout=max(0.0, next_sync - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _STOP:
                self._drain()
                return
            self._handle(item)
            self._sync()  # after every item too: a commit or a tray action shows at once
            if isinstance(item, _Barrier):
                item.set()
            next_sync = time.monotonic() + POLL_SECONDS

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Barrier):
                item.set()
            elif item is not _STOP:
                self._handle(item)

    def _handle(self, item) -> None:
        if item is _LOAD_CLASSIFIER:
            try:
                self.pipeline.classifier
                log.info("classifier loaded")
            except ImeAgentError as exc:
                self._error = str(exc)
        elif isinstance(item, Segment):
            live = self._live
            start = datetime.fromtimestamp(live.wall_offset if live else time.time(), UTC)
            try:
                self.pipeline.process_segment(item, start)
            except ImeAgentError as exc:
                self._error = str(exc)
                log.error("%s", exc)

    def _sync(self) -> None:
        """Make capture and the tray match the store: consent, pause, retention, counts."""
        try:
            self._granted = consent.consented(self.store)
            paused = self.store.paused_state()
            self._paused_until = paused.until
            if time.monotonic() - self._last_retention > RETENTION_EVERY_SECONDS:
                self.store.apply_retention()
                self._last_retention = time.monotonic()
            self._today = self.store.counts()["today"]
        except ImeAgentError as exc:
            self._error = str(exc)
        else:
            if not self._granted or self._stopped.is_set():
                self._stop_capture()
            elif self._error is None:
                self._start_capture()
            if self._live is not None:
                if paused.paused and not self._live.paused:
                    self._live.pause()
                elif not paused.paused and self._live.paused:
                    self._live.resume()
        self._publish()

    def _start_capture(self) -> None:
        with self._capture_lock:
            if self._live is None and not self._stopped.is_set():
                self._live = self._new_capture()

    def _new_capture(self) -> LiveCapture | None:
        try:
            live = LiveCapture(self._source_factory(), self._on_segment,
                               guards=Guards.from_config(self.config), idle_commit=self.config.idle_commit,
                               on_focus=self._focused)
            live.pause_state.paused = True  # _sync resumes it unless the profile is paused
            live.start()
        except ImeAgentError as exc:
            self._error = str(exc)
            log.error("capture unavailable: %s", exc)
            return None
        log.info("capture started")
        return live

    def _stop_capture(self) -> None:
        with self._capture_lock:
            live, self._live = self._live, None
        if live is not None:
            live.stop()
            log.info("capture stopped")

    def _publish(self) -> None:
        if self._error is not None:
            state, status = icons.ERROR, f"capture is off: {self._error}"
        elif not self._granted:
            state, status = icons.CONSENT, "nothing is captured until you consent (Consent…)"
        elif self._live is not None and self._live.paused:
            until = self._paused_until
            state = icons.PAUSED
            status = f"paused until {until.astimezone():%H:%M}" if until else "paused until you resume"
        else:
            state, status = icons.CAPTURING, f"capturing {', '.join(self._granted)}"
            if self.focus[1]:
                status += " (not in this window: password prompt or excluded app)"
        status += f"; {self._today} {'summary' if self._today == 1 else 'summaries'} today"
        if (state, status) != (self._state, self._status):
            self._state, self._status = state, status
            for listener in self._listeners:
                listener()


def run(config: Config) -> None:
    """``ime-agent run``: one agent per profile, with its tray icon, until Quit or a signal."""
    import signal

    from ime_agent import instance
    from ime_agent.tray import Tray, check_display

    check_display()
    # thinc imports torch whenever it is installed (an evaluation extra); the agent never
    # uses it, and it would add ~300 MB to a process that runs all day.
    sys.modules.setdefault("torch", None)  # type: ignore[arg-type]
    with instance.acquire(config.data_dir):
        store = Store.open(config.data_dir, retention_days=config.retention_days)
        try:
            agent = Agent(config, store)
            tray = Tray(agent)
            agent.on_change(tray.refresh)

            def shutdown() -> None:
                agent.stop()
                tray.stop()

            # The handler runs on the tray's loop thread; stopping the tray waits on that loop.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: threading.Thread(target=shutdown, daemon=True).start())

            def shown(_tray) -> None:
                log.info("tray icon shown")
                agent.start()  # only now: capture never runs without the icon saying so
                if agent.state() == icons.CONSENT:
                    agent.open_consent()  # first run: ask before anything is captured

            tray.run(setup=shown)
            agent.stop()
        finally:
            store.close()

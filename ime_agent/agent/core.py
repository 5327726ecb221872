"""The running agent: capture → segment worker → pipeline → store, kept in line with the store.

Threads, and why:

- the tray icon's loop runs on the main thread (macOS requires it);
- capture's sources and its reconstruction thread only hand finished segments to
  the :class:`SegmentWorker`, which classifies and stores them one at a time;
- one :class:`~ime_agent.agent.jobs.Scheduler` thread runs the periodic jobs:
  *reconcile* (consent and pause from the store, another process included, reach
  capture within a second; capture that failed or lost its source is retried),
  *retention*, and *sync* (when enrolled in a study);
- a notifier thread tells the tray about state changes, so no worker ever waits on
  the tray; dialogs (consent, review, delete) each run on a thread of their own.

Capture runs only while the icon is shown and some category is consented (before
consent no source is even started), and drops every key while the profile is paused.
The tray reads cached values, so drawing the menu never waits on the database.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from ime_agent import consent
from ime_agent.agent import status as agent_status
from ime_agent.agent.jobs import Job, Scheduler
from ime_agent.capture._base import Segment
from ime_agent.capture.guards import Guards
from ime_agent.capture.live import LiveCapture
from ime_agent.config import Config
from ime_agent.errors import ImeAgentError
from ime_agent.pipeline import Pipeline
from ime_agent.store import Store

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 0.5  # how often the store is checked for changes made by another process
FULL_RECONCILE_SECONDS = 5.0  # and re-read even without one (a timed pause ending, a new day)
CAPTURE_RETRY_SECONDS = 5.0  # capture that could not start (no display yet at login) is retried
RETENTION_SECONDS = 3600.0


@dataclass(frozen=True)
class Windows:
    """The agent's dialogs; tests swap them for scripted answers."""

    ask_consent: Callable[[dict[str, bool]], dict[str, bool] | None]
    review: Callable[[list, Callable[[], object]], None]
    confirm_delete: Callable[[], bool]

    @classmethod
    def tk(cls, store: Store) -> "Windows":
        from ime_agent.ui.consent_window import ask_consent
        from ime_agent.ui.review_window import ReviewWindow, ask_delete_everything

        def consent_text() -> str:  # the studies joined, too: what is shared, with whom
            studies = consent.describe_studies(store)
            return consent.CONSENT_TEXT + (f"\n{studies}\n" if studies else "")

        return cls(
            ask_consent=lambda current: ask_consent(initial=current, text=consent_text()),
            review=lambda summaries, delete_all: ReviewWindow(summaries, delete_all).run(),
            confirm_delete=ask_delete_everything,
        )


def default_source():
    """The live event source of this system (its backends composed on one clock)."""
    from ime_agent.capture import open_source

    return open_source()


class SegmentWorker:
    """Classifies and stores segments one at a time, on its own thread; never dies of an error."""

    def __init__(self, pipeline: Pipeline, on_done: Callable[[], None]):
        self._pipeline = pipeline
        self._on_done = on_done
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="ime-agent-worker", daemon=True)
        self.error: str | None = None  # the last segment could not be summarised (until one is)
        self.committed = 0

    def start(self) -> None:
        self._thread.start()
        self._queue.put(self._load_classifier)  # now, not on the first Enter: that stays quick

    def submit(self, segment: Segment) -> None:
        self._queue.put(segment)

    def barrier(self) -> threading.Event:
        """Set once everything submitted before it is handled."""
        done = threading.Event()
        self._queue.put(done)
        return done

    def stop(self, timeout: float = 60.0) -> None:
        self._queue.put(None)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the segment worker did not finish within %.0fs", timeout)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                item() if callable(item) else self._store(item)
            except Exception as exc:  # only the type: a message could quote typed text
                log.error("worker: %s", type(exc).__name__)
                self.error = f"internal error ({type(exc).__name__})"
            self._on_done()

    def _load_classifier(self) -> None:
        try:
            self._pipeline.classifier
            log.info("classifier loaded")
        except ImeAgentError as exc:
            self.error = str(exc)

    def _store(self, segment: Segment) -> None:
        try:
            if self._pipeline.process_segment(segment) == "stored":
                self.committed += 1
        except ImeAgentError as exc:
            self.error = str(exc)
            log.error("%s", exc)
        else:
            self.error = None


class CaptureControl:
    """Starts, stops, pauses and resumes live capture; remembers why it is off."""

    def __init__(self, config: Config, source_factory: Callable[[], object], on_segment, on_focus, on_health):
        self._config = config
        self._source_factory = source_factory
        self._on_segment = on_segment
        self._on_focus = on_focus
        self._on_health = on_health
        self._lock = threading.Lock()
        self.live: LiveCapture | None = None
        self.error: str | None = None  # capture could not start, or lost its source
        self._retry_at = 0.0

    @property
    def running(self) -> bool:
        live = self.live
        return live is not None and not live.paused

    def ensure_started(self, paused: bool) -> None:
        with self._lock:
            live = self.live
            if live is not None and not live.healthy:
                self.error = f"the capture source {live.source.name} stopped observing (display or bus gone); retrying"
                self._stop_locked()
                self._retry_at = time.monotonic() + CAPTURE_RETRY_SECONDS
                return
            if self.live is None and time.monotonic() >= self._retry_at:
                self.live = self._start(paused)
            live = self.live
            if live is not None:
                if paused and not live.paused:
                    live.pause()
                elif not paused and live.paused:
                    live.resume()

    def _start(self, paused: bool) -> LiveCapture | None:
        live: LiveCapture | None = None
        try:
            live = LiveCapture(self._source_factory(), self._on_segment, guards=Guards.from_config(self._config),
                               idle_commit=self._config.idle_commit, on_focus=self._on_focus,
                               on_health=self._on_health)
            live.pause_state.paused = paused
            live.start()
        except ImeAgentError as exc:
            self.error = str(exc)
        except Exception as exc:  # a backend failing in its own way: name it, keep the tray up
            self.error = f"capture unavailable ({type(exc).__name__})"
        else:
            self.error = None  # capture is back: whatever kept it off is over
            log.info("capture started (%s)", live.source.name)
            return live
        log.error("capture unavailable: %s", self.error)
        self._retry_at = time.monotonic() + CAPTURE_RETRY_SECONDS
        return None

    def pause_now(self) -> None:
        live = self.live
        if live is not None:
            live.pause()  # at once, before anything is written

    def stop(self) -> None:
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        live, self.live = self.live, None
        if live is not None:
            try:
                live.stop()  # its last segment reaches the worker before this returns
            except Exception as exc:  # e.g. the X server went away first (logout)
                log.error("stopping capture: %s", type(exc).__name__)
            log.info("capture stopped")


class Agent:
    """The tray's :class:`~ime_agent.ui.tray.AgentControl`, and the owner of capture."""

    def __init__(self, config: Config, store: Store, *, classifier=None,
                 source_factory: Callable[[], object] = default_source,
                 windows: Windows | None = None,
                 icon_shown: Callable[[], bool] = lambda: True,
                 extra_jobs: tuple[Job, ...] = (),
                 sync_status: Callable[[], str | None] = lambda: None):
        self.config = config
        self.store = store
        self.pipeline = Pipeline(store, classifier)
        self.worker = SegmentWorker(self.pipeline, self._changed)
        self.capture = CaptureControl(config, source_factory, self.worker.submit, self._focused, self._health)
        self._windows = windows
        self._icon_shown = icon_shown
        self._sync_status = sync_status
        self.scheduler = Scheduler([
            Job("reconcile", self._reconcile, RECONCILE_SECONDS),
            Job("retention", self._retention, RETENTION_SECONDS, max_backoff=RETENTION_SECONDS),
            *extra_jobs,
        ], on_error=lambda _job: self._changed())
        self._notify = threading.Event()
        self._notifier = threading.Thread(target=self._notify_loop, name="ime-agent-notify", daemon=True)
        self._listeners: list[Callable[[], None]] = []
        self._window_lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._stopped = threading.Event()
        self._seen_version: int | None = None
        self._reread = True  # this process changed the store (its own writes leave data_version alone)
        self._next_full = 0.0
        # Cached for the tray; written by the scheduler thread (and a tray action's own call).
        self._granted: tuple[str, ...] = ()
        self._paused_until: datetime | None = None
        self._paused = False
        self._today = 0
        self._store_error: str | None = None
        self.focus: tuple[str | None, bool] = (None, False)  # (app id, blocked by a guard)
        self._shown = ("", "")

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._notifier.start()
        self.worker.start()
        self._reconcile(force=True)
        self.scheduler.start()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever state or status changes, from one notifier thread."""
        self._listeners.append(listener)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop capture, store what it still had buffered, and stop the worker and jobs."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
        self.scheduler.stop()
        try:
            self.capture.stop()  # its last segment is queued before the worker's stop
        finally:
            self.worker.stop(timeout)
            self._notify.set()

    def wait_synced(self, timeout: float = 5.0) -> bool:
        """Block until the worker has handled everything submitted so far and the store was re-read."""
        if self._stopped.is_set():
            return True
        if not self.worker.barrier().wait(timeout):
            return False
        self._reread = True
        return self.scheduler.run_now("reconcile").wait(timeout)

    def _settle(self) -> None:
        """After a tray action: let it take effect, so the icon the user sees next is right."""
        self.wait_synced(timeout=2.0)

    # -- AgentControl: read by the tray ------------------------------------------------------

    def state(self) -> str:
        return self._shown[0] or agent_status.describe(self.snapshot())[0]

    def status_line(self) -> str:
        return self._shown[1] or agent_status.describe(self.snapshot())[1]

    @property
    def capturing(self) -> bool:
        return self.capture.running

    @property
    def committed(self) -> int:
        return self.worker.committed

    def snapshot(self) -> agent_status.Snapshot:
        problems = [self._store_error, self.worker.error,
                    *(job.error for job in self.scheduler.jobs.values() if job.name != "sync")]
        return agent_status.Snapshot(
            granted=self._granted, paused=self._paused, paused_until=self._paused_until,
            icon_shown=self._icon_shown(), capture_error=self.capture.error, blocked_window=self.focus[1],
            problem=next((p for p in problems if p), None), today=self._today, sync=self._sync_status(),
        )

    # -- AgentControl: actions from the tray ---------------------------------------------------

    def pause(self, seconds: float | None) -> None:
        self.capture.pause_now()  # first: nothing more is captured, even if the store cannot record it
        try:
            self.store.pause(seconds)
        except ImeAgentError as exc:
            self._store_error = str(exc)
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
                self._reread = True
                self.scheduler.run_now("reconcile")

        self._in_window(ask)

    def delete_data(self) -> None:
        self._in_window(lambda w: w.confirm_delete() and self._delete_all())

    def quit(self) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------

    def _delete_all(self) -> int:
        deleted = self.store.forget(everything=True)
        self._reread = True
        self.scheduler.run_now("reconcile")
        return deleted

    def _in_window(self, show: Callable[[Windows], object]) -> None:
        """Run a dialog on its own thread; one at a time (a second request is ignored)."""
        if not self._window_lock.acquire(blocking=False):
            return

        def run() -> None:
            try:
                if self._windows is None:
                    self._windows = Windows.tk(self.store)
                show(self._windows)
            except Exception as exc:  # a dialog failing must not take capture down
                log.error("window failed: %s", type(exc).__name__)
            finally:
                self._window_lock.release()

        threading.Thread(target=run, name="ime-agent-window", daemon=True).start()

    def _focused(self, app: str | None, blocked: bool) -> None:
        if (app, blocked) != self.focus:
            self.focus = (app, blocked)
            self._changed()  # the status line says when this window is not captured

    def _health(self, alive: bool) -> None:
        if not alive:
            self.scheduler.run_now("reconcile")  # turns the lost source into an error and a retry

    def _reconcile(self, force: bool = False) -> float | None:
        """Make capture and the tray match the store: consent, pause, counts; keep capture alive."""
        try:
            version = self.store.data_version()
            force, self._reread = force or self._reread, False
            if force or version != self._seen_version or time.monotonic() >= self._next_full:
                self._seen_version = version
                self._next_full = time.monotonic() + FULL_RECONCILE_SECONDS
                self._granted = consent.consented(self.store)
                paused = self.store.paused_state()
                self._paused, self._paused_until = paused.paused, paused.until
                self._today = self.store.today_count()
            self._store_error = None
        except ImeAgentError as exc:
            self._store_error = str(exc)
        if not self._granted or self._stopped.is_set() or not self._icon_shown():
            self.capture.stop()
        else:
            self.capture.ensure_started(self._paused)
        self._changed()
        return None

    def _retention(self) -> None:
        self.store.apply_retention()

    def _changed(self) -> None:
        """Recompute what the tray shows; tell it (and the status file) when that changed."""
        shown = agent_status.describe(self.snapshot())
        if shown != self._shown:
            self._shown = shown
            self._notify.set()

    def _notify_loop(self) -> None:
        while True:
            self._notify.wait()
            self._notify.clear()
            if self._stopped.is_set():
                return
            agent_status.publish(self.config.data_dir, *self._shown, self._sources())
            for listener in self._listeners:
                try:
                    listener()
                except Exception as exc:
                    log.error("state listener: %s", type(exc).__name__)

    def _sources(self) -> tuple[str, ...]:
        live = self.capture.live
        return tuple(live.source.name.split("+")) if live is not None else ()

"""Live capture: sources' events through the guards into the reconstruction.

The sources' callbacks only filter and enqueue; reconstruction runs on its own
thread, which also fires idle commits when the queue stays quiet past the
deadline and watches the sources' health: when one stops observing, everything
is dropped (and the unfinished text forgotten) until capture is restarted.
Segments are handed to ``on_segment`` on that thread, stamped with ``wall_end``:
the wall-clock time of their end, read when they commit.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace
from typing import Callable

from ime_agent import defaults
from ime_agent.capture._base import FOCUS, EventSource, KeyEvent, Segment
from ime_agent.capture.guards import GuardFilter, Guards, PauseState
from ime_agent.capture.text import Reconstructor

log = logging.getLogger(__name__)

HEALTH_CHECK_SECONDS = 0.5
_STOP = object()
_DISCARD = object()


class LiveCapture:
    def __init__(
        self,
        source: EventSource,
        on_segment: Callable[[Segment], None],
        *,
        guards: Guards | None = None,
        idle_commit: float = defaults.IDLE_COMMIT_SECONDS,
        pause: PauseState | None = None,
        on_focus: Callable[[str | None, bool], None] | None = None,
        on_health: Callable[[bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._source = source
        self._on_segment = on_segment
        self._on_focus = on_focus
        self._on_health = on_health
        self._clock = clock
        self._wall_clock = wall_clock
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.pause_state = pause or PauseState()
        self.guard = GuardFilter(guards or Guards(), self._queue.put, self.pause_state,
                                 capabilities=getattr(source, "capabilities", frozenset()))
        self._reconstructor = Reconstructor(self._deliver, idle_commit)
        self._thread = threading.Thread(target=self._run, name="ime-agent-reconstruction", daemon=True)
        self._healthy = True

    @property
    def source(self) -> EventSource:
        return self._source

    @property
    def healthy(self) -> bool:
        """False once a source stopped observing (capture drops everything then)."""
        return self._healthy

    def start(self) -> None:
        self._thread.start()
        try:
            self._source.start(self.guard)
        except BaseException:
            self._queue.put(_STOP)
            self._thread.join()
            raise

    def stop(self) -> None:
        """Stop the source, commit what is buffered, and wait for the last segment."""
        self.pause_state.paused = True  # anything a listener still reports is dropped
        try:
            self._source.stop()
        finally:  # even if the source fails to stop (its X server gone), keep what was typed
            self._queue.put(_STOP)
            self._thread.join()

    def pause(self) -> None:
        """Drop input from now on and forget the unfinished text."""
        self.pause_state.paused = True
        self._queue.put(_DISCARD)

    def resume(self) -> None:
        self.pause_state.paused = False

    @property
    def paused(self) -> bool:
        return self.pause_state.paused

    def _run(self) -> None:
        reconstructor = self._reconstructor
        get = self._queue.get
        next_check = self._clock() + HEALTH_CHECK_SECONDS
        while True:
            deadline = reconstructor.idle_deadline()
            wait = next_check if deadline is None else min(deadline, next_check)
            try:
                event = get(timeout=max(0.0, wait - self._clock()))
            except queue.Empty:
                event = None
            now = self._clock()
            if now >= next_check:
                self._check_health()
                next_check = now + HEALTH_CHECK_SECONDS
            if event is None:
                reconstructor.tick(now)
                continue
            if event is _STOP:
                reconstructor.finish(now)
                return
            if event is _DISCARD:
                reconstructor.discard()
                continue
            reconstructor.feed(event)
            if self._on_focus is not None and event.type == FOCUS:
                self._on_focus(event.app, event.secure)

    def _check_health(self) -> None:
        try:
            alive = bool(self._source.alive())
        except Exception:  # a source that cannot even say: it is not observing
            alive = False
        if alive == self._healthy:
            return
        self._healthy = alive
        if alive:
            self.guard.source_up(self._source.name)
        else:
            # Fail closed: nothing more is kept. What was typed before is finished as at a focus
            # change (it was judged while the source could still see), and focus is unknown from here.
            self.guard.source_down(self._source.name)
            self._reconstructor.feed(KeyEvent(self._clock(), FOCUS, app=None, title="", secure=True))
            log.error("capture source %s stopped observing; dropping all input", self._source.name)
        if self._on_health is not None:
            self._on_health(alive)

    def _deliver(self, segment: Segment) -> None:
        # Read both clocks now: the monotonic clock stops while the machine sleeps, so an
        # offset taken at start would put every later segment in a bucket that lags.
        wall_end = self._wall_clock() - (self._clock() - segment.t_end)
        try:
            self._on_segment(replace(segment, wall_end=wall_end))
        except Exception as exc:
            # Keep capturing; name only the error type: its message could quote the text.
            log.error("segment handler failed (%s); segment dropped", type(exc).__name__)

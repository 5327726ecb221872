"""Live capture: a source's events through the guards into the reconstruction.

The source's callbacks only filter and enqueue; reconstruction runs on its own
thread, which also fires idle commits when the queue stays quiet past the
deadline. Segments are handed to ``on_segment`` on that thread, with ``t_start``
and ``t_end`` in the source's monotonic clock (add :attr:`LiveCapture.wall_offset`
for Unix time).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from ime_agent.capture._base import FOCUS, EventSource, Segment
from ime_agent.capture.guards import GuardFilter, Guards, PauseState
from ime_agent.capture.text import DEFAULT_IDLE_COMMIT, Reconstructor

log = logging.getLogger(__name__)

_STOP = object()
_DISCARD = object()


class LiveCapture:
    def __init__(
        self,
        source: EventSource,
        on_segment: Callable[[Segment], None],
        *,
        guards: Guards | None = None,
        idle_commit: float = DEFAULT_IDLE_COMMIT,
        pause: PauseState | None = None,
        on_focus: Callable[[str | None, bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._source = source
        self._on_segment = on_segment
        self._on_focus = on_focus
        self._clock = clock
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.pause_state = pause or PauseState()
        self.guard = GuardFilter(guards or Guards(), self._queue.put, self.pause_state)
        self._reconstructor = Reconstructor(self._deliver, idle_commit)
        self._thread = threading.Thread(target=self._run, name="ime-agent-reconstruction", daemon=True)
        self.wall_offset = time.time() - clock()

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
        while True:
            deadline = reconstructor.idle_deadline()
            try:
                if deadline is None:
                    event = get()
                else:
                    event = get(timeout=max(0.0, deadline - self._clock()))
            except queue.Empty:
                reconstructor.tick(self._clock())
                continue
            if event is _STOP:
                reconstructor.finish(self._clock())
                return
            if event is _DISCARD:
                reconstructor.discard()
                continue
            reconstructor.feed(event)
            if self._on_focus is not None and event.type == FOCUS:
                self._on_focus(event.app, event.secure)

    def _deliver(self, segment: Segment) -> None:
        try:
            self._on_segment(segment)
        except Exception as exc:
            # Keep capturing; name only the error type: its message could quote the text.
            log.error("segment handler failed (%s); segment dropped", type(exc).__name__)



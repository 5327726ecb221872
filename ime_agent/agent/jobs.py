"""Periodic jobs on one scheduler thread: reconcile with the store, retention, and sync.

Each job runs when due and is rescheduled by what it returns: its own interval
normally, a growing back-off with jitter after a failure (so a collector that is
down is not hammered, and many agents do not retry in step). A job can be run
now (a tray action, a test), and whoever asks can wait for that run. Whatever a
job raises, the scheduler lives on and the job's last error is kept for the tray.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    run: Callable[[], float | None]  # returns seconds until the next run, or None for `interval`
    interval: float
    max_backoff: float = 3600.0
    jitter: float = 0.1  # +- this share of every delay
    due: float = 0.0
    failures: int = 0
    error: str | None = None  # the last failure, cleared by the next success
    _waiters: list = field(default_factory=list)

    def delay_after_failure(self) -> float:
        return min(self.max_backoff, self.interval * 2 ** min(self.failures, 16))


class Scheduler:
    def __init__(self, jobs: list[Job], *, clock: Callable[[], float] = time.monotonic,
                 on_error: Callable[[Job], None] | None = None, rng: random.Random | None = None):
        self.jobs = {job.name: job for job in jobs}
        self._clock = clock
        self._on_error = on_error
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="ime-agent-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run_now(self, name: str) -> threading.Event:
        """Make ``name`` due now; the returned event is set once it has run (or the scheduler stopped)."""
        done = threading.Event()
        with self._lock:
            job = self.jobs[name]
            job.due = 0.0
            job._waiters.append(done)
        if self._stopping.is_set():
            done.set()
        self._wake.set()
        return done

    def _loop(self) -> None:
        while not self._stopping.is_set():
            now = self._clock()
            with self._lock:
                due = [job for job in self.jobs.values() if job.due <= now]
            for job in due:
                if self._stopping.is_set():
                    break
                self._run(job)
            with self._lock:
                next_due = min((job.due for job in self.jobs.values()), default=now + 60)
            self._wake.wait(max(0.0, next_due - self._clock()))
            self._wake.clear()
        with self._lock:
            for job in self.jobs.values():
                for waiter in job._waiters:
                    waiter.set()
                job._waiters.clear()

    def _run(self, job: Job) -> None:
        with self._lock:
            waiters, job._waiters = job._waiters, []
        try:
            delay = job.run()
        except Exception as exc:  # only the type: a message could quote something it should not
            job.failures += 1
            job.error = f"{job.name} failed ({type(exc).__name__}: {_first_line(exc)})" \
                if _is_ours(exc) else f"{job.name} failed ({type(exc).__name__})"
            log.error("job %s failed: %s", job.name, type(exc).__name__)
            delay = job.delay_after_failure()
            if self._on_error is not None:
                self._on_error(job)
        else:
            job.failures, job.error = 0, None
            delay = job.interval if delay is None else delay
        spread = delay * job.jitter
        job.due = self._clock() + max(0.0, delay + self._rng.uniform(-spread, spread))
        for waiter in waiters:
            waiter.set()


def _is_ours(exc: Exception) -> bool:
    from ime_agent.errors import ImeAgentError

    return isinstance(exc, ImeAgentError)  # our messages name no content


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""

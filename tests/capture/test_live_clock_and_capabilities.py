"""Live capture's wall time after a suspend, and capability flags the guards act on."""

from __future__ import annotations

import threading

from ime_agent.capture._base import REPORTS_KEYS
from ime_agent.capture._scripted import ScriptedSource, typing
from ime_agent.capture.live import LiveCapture
from xserver import wait_until


class Clocks:
    """A monotonic clock that stops while the machine sleeps, and a wall clock that does not."""

    def __init__(self):
        self.mono, self.wall = 1000.0, 1_800_000_000.0
        self.lock = threading.Lock()

    def monotonic(self) -> float:
        with self.lock:
            return self.mono

    def time(self) -> float:
        with self.lock:
            return self.wall

    def sleep_machine(self, seconds: float) -> None:
        with self.lock:
            self.wall += seconds  # suspended: the monotonic clock does not move


def test_a_segment_after_a_suspend_gets_the_wall_time_it_was_finished():
    clocks = Clocks()
    got = []
    source = ScriptedSource(clock=clocks.monotonic)
    live = LiveCapture(source, got.append, idle_commit=5, clock=clocks.monotonic, wall_clock=clocks.time)
    live.start()
    try:
        source.play(typing("before the lid closed"))
        wait_until(lambda: len(got) == 1, what="the first segment")
        clocks.sleep_machine(3 * 3600)  # three hours asleep
        source.play(typing("after waking up"))
        wait_until(lambda: len(got) == 2, what="the second segment")
    finally:
        live.stop()
    assert got[0].wall_end == 1_800_000_000.0
    assert got[1].wall_end == 1_800_000_000.0 + 3 * 3600  # not three hours behind


def test_a_source_that_cannot_say_where_keys_go_keeps_nothing():
    class KeysOnly(ScriptedSource):
        capabilities = frozenset({REPORTS_KEYS})

    got = []
    source = KeysOnly()
    live = LiveCapture(source, got.append, idle_commit=5)
    live.start()
    source.play(typing("typed somewhere unknown"))
    live.stop()
    assert got == [] and live.guard.dropped["unknown"] > 0

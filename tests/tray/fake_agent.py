"""A small in-memory AgentControl for tray tests: real state changes, no capture."""

from __future__ import annotations

import threading

from ime_agent.ui import icons


class FakeAgent:
    def __init__(self, state: str = icons.CAPTURING):
        self._state = state
        self.calls: list[tuple] = []
        self.paused_for: float | None = None
        self.called = threading.Event()

    def _record(self, *call) -> None:
        self.calls.append(call)
        self.called.set()

    def state(self) -> str:
        return self._state

    def set_state(self, state: str) -> None:
        self._state = state

    def status_line(self) -> str:
        return f"{self._state}: purchase, travel · 3 summaries today"

    def pause(self, seconds):
        self._record("pause", seconds)
        self.paused_for = seconds
        self._state = icons.PAUSED

    def resume(self):
        self._record("resume")
        self._state = icons.CAPTURING

    def review(self):
        self._record("review")

    def open_consent(self):
        self._record("open_consent")

    def delete_data(self):
        self._record("delete_data")

    def quit(self):
        self._record("quit")

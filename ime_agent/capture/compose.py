"""Several sources on one clock, seen by capture as one.

On X11 the keyboard-and-focus source runs beside the accessibility source; on
Wayland the accessibility source runs alone. Every part emits into the same
guard filter (which serialises them), and the whole is alive only while every
part is: when one part stops observing, capture drops everything (fail closed).
"""

from __future__ import annotations

from ime_agent.capture._base import Emit, EventSource


class CompositeSource:
    def __init__(self, parts: list[EventSource]):
        if not parts:
            raise ValueError("a composite source needs at least one part")
        self.parts = list(parts)
        self.name = "+".join(part.name for part in self.parts)
        self.capabilities = frozenset().union(*(part.capabilities for part in self.parts))
        self._started: list[EventSource] = []

    def start(self, emit: Emit) -> None:
        try:
            for part in self.parts:
                part.start(emit)
                self._started.append(part)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        errors = []
        for part in reversed(self._started):
            try:
                part.stop()
            except Exception as exc:  # stop the others regardless
                errors.append(exc)
        self._started = []
        if errors:
            raise errors[0]

    def alive(self) -> bool:
        return all(part.alive() for part in self.parts)

    def dead_parts(self) -> list[str]:
        return [part.name for part in self.parts if not part.alive()]

"""The running agent, in parts.

- :mod:`.core` — :class:`Agent`: capture control, the segment worker, reconcile
- :mod:`.jobs` — periodic jobs (reconcile, retention, sync) on one scheduler thread
- :mod:`.status` — a pure function from a snapshot to the icon state and status line
- :mod:`.app` — the composition root of ``ime-agent run``: store, capture, tray, signals
"""

from ime_agent.agent.core import Agent, Windows

__all__ = ["Agent", "Windows"]

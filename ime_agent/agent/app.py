"""``ime-agent run``: the composition root. Wires the store, capture, the tray, the jobs and signals.

One agent per profile, with its tray icon, until Quit or a signal. Capture starts
only once the icon is shown (and consent given); the first run asks for consent
before anything is captured.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Callable

from ime_agent import instance
from ime_agent.agent import status as agent_status
from ime_agent.agent.core import Agent
from ime_agent.capture import accessibility_on
from ime_agent.config import Config
from ime_agent.store import Store
from ime_agent.ui import icons

log = logging.getLogger(__name__)


def run(config: Config, prompt: Callable[[bool], str | None] | None = None) -> None:
    """``prompt`` asks for the passphrase of a passphrase profile (from a terminal); started at
    login there is none, and ``IME_AGENT_PASSPHRASE`` must be set instead."""
    from ime_agent.sync.job import sync_job_for
    from ime_agent.ui.tray import Tray, check_display

    check_display()
    # thinc imports torch whenever it is installed (an evaluation extra); the agent never
    # uses it, and it would add ~300 MB to a process that runs all day.
    sys.modules.setdefault("torch", None)  # type: ignore[arg-type]
    with instance.acquire(config.data_dir), accessibility_on():
        store = Store.open(config.data_dir, prompt=prompt, retention_days=config.retention_days)
        try:
            sync = sync_job_for(store)
            trays: list[Tray] = []  # the tray is made after the agent it shows
            agent = Agent(config, store, icon_shown=lambda: bool(trays) and trays[0].shown,
                          extra_jobs=(sync.job,), sync_status=sync.describe)
            tray = Tray(agent)
            trays.append(tray)
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
                agent_status.withdraw_published(config.data_dir)
        finally:
            store.close()

"""The agent's periodic sync job (filled in with the sync client)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ime_agent import defaults
from ime_agent.agent.jobs import Job


@dataclass
class SyncJob:
    job: Job
    describe: Callable[[], str | None]


def sync_job_for(store) -> SyncJob:
    return SyncJob(Job("sync", lambda: None, defaults.SYNC_INTERVAL_SECONDS), lambda: None)

"""Sync: seal what is due, send what is sealed, and only count it sent once the collector says so.

One pass (:func:`sync_once`) per study: summaries whose review hold is over are
sealed into batches (:mod:`.outbox`); every batch not yet acknowledged is sent,
oldest first, and marked *sent* before it goes out (a crash after sending retries
the same bytes, which the collector answers as a duplicate); an acknowledgement
deletes the batch and its outbox rows. When the collector cannot be reached or
asks to wait, the pass stops for that study and the batch is retried later with
a growing back-off and jitter; nothing is lost. A withdrawal the collector has
not confirmed yet is sent again first.

The agent runs it as a scheduled job; ``ime-agent sync`` runs one pass now.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ime_agent import defaults
from ime_agent.agent.jobs import Job
from ime_agent.errors import ImeAgentError, SyncError
from ime_agent.store import Store
from ime_agent.sync import outbox
from ime_agent.sync.client import CollectorClient, Refused, Transient
from ime_wire import manifest as manifests

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 6 * 3600.0


@dataclass
class StudySync:
    study_id: str
    title: str
    sealed: int = 0  # summaries sealed into new batches in this pass
    sent: int = 0  # summaries the collector acknowledged in this pass
    batches: int = 0
    duplicates: int = 0  # batches the collector already had (a lost answer before)
    pending: int = 0  # summaries still on the device for this study afterwards
    error: str | None = None
    retry: bool = False  # the error is transient

    @property
    def outcome(self) -> str:
        if self.error:
            return f"failed: {self.error}"
        return f"ok: sent {self.sent}"


@dataclass
class SyncReport:
    studies: list[StudySync] = field(default_factory=list)
    withdrawals: list[str] = field(default_factory=list)  # confirmed now
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(s.error for s in self.studies)


ClientFactory = Callable[[str], CollectorClient]


def sync_once(store: Store, *, now: datetime | None = None, client_factory: ClientFactory = CollectorClient,
              everything_due: bool = False, rng: random.Random | None = None) -> SyncReport:
    """One pass over every study. ``everything_due``: also batches waiting for their back-off."""
    now = now or store.now()
    rng = rng or random.Random()
    report = SyncReport()
    _retry_withdrawals(store, client_factory, report)
    for study in outbox.studies(store):
        result = StudySync(study.study_id, study.manifest.title)
        report.studies.append(result)
        try:
            result.sealed = outbox.seal_due(store, study, now)
            with client_factory(study.manifest.collector_url) as client:
                for batch in store.batches_to_send(study.study_id, None if everything_due else now):
                    store.mark_sent(batch["batch_id"])  # from here on, only these bytes may go
                    try:
                        answer = client.upload(study.study_id, batch["upload"])
                    except Transient as exc:
                        result.error, result.retry = str(exc), True
                        wait = exc.retry_after or _backoff(batch["attempts"] + 1, rng)
                        store.mark_retry(batch["batch_id"], now + timedelta(seconds=wait))
                        break
                    result.sent += store.mark_acknowledged(batch["batch_id"])
                    result.batches += 1
                    result.duplicates += answer.duplicate
        except Refused as exc:
            result.error = f"{exc}; see `ime-agent study status`"
        except ImeAgentError as exc:  # unreachable, or the study's records cannot be used: said, not raised
            result.error, result.retry = str(exc), isinstance(exc, Transient)
        counts = store.outbox_counts(study.study_id)
        result.pending = sum(counts.values())
        store.record_sync(study.study_id, result.outcome)
    return report


def _retry_withdrawals(store: Store, client_factory: ClientFactory, report: SyncReport) -> None:
    for row in store.studies(active=False):
        if not row["withdrawal_pending"]:
            continue
        try:
            withdraw(store, row, client_factory)
            report.withdrawals.append(row["study_id"])
        except SyncError as exc:
            report.errors.append(f"withdrawal from study {row['study_id']} not confirmed yet: {exc}")


def withdraw(store: Store, row: dict, client_factory: ClientFactory = CollectorClient) -> int:
    """Ask the collector to delete what it holds for this device (signed); returns batches deleted."""
    manifest = manifests.load(row["manifest"], source="the stored manifest")
    _public, private = store.device_key(row["study_id"])
    with client_factory(manifest.collector_url) as client:
        deleted = client.withdraw(row["study_id"], row["enrollment_id"], Ed25519PrivateKey.from_private_bytes(private))
    store.withdrawal_done(row["study_id"], deleted)
    return deleted


def _backoff(attempt: int, rng: random.Random) -> float:
    """30 s, 1 min, 2 min, ... up to 6 h, with +-25 % jitter so agents do not retry in step."""
    base = min(MAX_BACKOFF_SECONDS, 30.0 * 2 ** min(attempt - 1, 20))
    return base * rng.uniform(0.75, 1.25)


# --- in the running agent ----------------------------------------------------------------


@dataclass
class SyncJob:
    job: Job
    describe: Callable[[], str | None]


def sync_job_for(store: Store, client_factory: ClientFactory = CollectorClient,
                 interval: float = defaults.SYNC_INTERVAL_SECONDS) -> SyncJob:
    """The agent's periodic sync: a pass every ``interval``; after a failure the scheduler backs off
    with jitter. ``describe()`` is the tray's words for the last pass (None when in no study)."""
    last: dict[str, str | None] = {"text": None}

    def run() -> None:
        if not store.studies() and not any(r["withdrawal_pending"] for r in store.studies(active=False)):
            last["text"] = None
            return
        report = sync_once(store, client_factory=client_factory)
        at = f"{store.now().astimezone():%H:%M}"
        if report.failed:
            last["text"] = f"last sync {at} failed, retrying (nothing lost)"
            raise SyncError("; ".join([*report.errors, *(s.error for s in report.studies if s.error)]))
        total = sum(row["sent"] or 0 for row in store.studies())
        last["text"] = f"last sync {at}, {total} sent to your study"

    return SyncJob(Job("sync", run, interval, max_backoff=MAX_BACKOFF_SECONDS, jitter=0.25),
                   lambda: last["text"])

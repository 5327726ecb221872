"""What leaves the device, and when: due summaries sealed into batches whose bytes are frozen.

A summary is held for the study's review hold (the participant can see it with
``ime-agent study preview`` and delete it with ``forget``), then sealed: the
summaries due, in their wire form with only the slots the study collects, are put
in canonical order, sealed to the study's key (HPKE) and signed by this device,
and those exact bytes are stored with the batch. Every retry sends them again,
so the collector can recognise a repeat; nothing is ever resealed. The plaintext
is reproducible from the batch's summaries, which is how the preview shows the
exact content and SHA-256 of the next upload.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ime_agent import defaults
from ime_agent.errors import StudyError
from ime_agent.store import Store
from ime_wire import envelope, keys
from ime_wire import manifest as manifests
from ime_wire.errors import InvalidManifest
from ime_wire.summary import Summary

#: Sealed batches not yet acknowledged, at most: while the collector is away, what becomes due
#: stays held (deletable, previewable) instead of being frozen into many small batches.
MAX_UNSENT_BATCHES = 4


@dataclass(frozen=True)
class Study:
    """A study this profile is in, as recorded at join (the manifest is checked again on load)."""

    manifest: manifests.Manifest
    enrollment_id: str
    categories: tuple[str, ...]
    sent: int
    last_sync_at: str | None
    last_sync_outcome: str | None

    @property
    def study_id(self) -> str:
        return self.manifest.study_id


def studies(store: Store) -> list[Study]:
    """The studies the profile is in; a manifest damaged in the store is an error, not skipped."""
    result = []
    for row in store.studies():
        try:
            manifest = manifests.load(row["manifest"], source=f"the stored manifest of study {row['study_id']}")
        except InvalidManifest as exc:
            raise StudyError(f"{exc}; leave the study (`ime-agent study leave`) and join it again") from None
        result.append(Study(manifest, row["enrollment_id"], row["categories"], row["sent"] or 0,
                            row["last_sync_at"], row["last_sync_outcome"]))
    return result


def wire_form(summaries: list[Summary], study: Study) -> list[Summary]:
    """What the study receives of these summaries: only the slots it collects, in a fixed order."""
    shown = [replace(s, slots={k: v for k, v in s.slots.items() if k in study.manifest.slots_for(s.intent)})
             for s in summaries if s.intent in study.categories]
    return sorted(shown, key=lambda s: (s.bucket, s.id))


def seal_due(store: Store, study: Study, now: datetime, batch_size: int = defaults.SYNC_BATCH_SUMMARIES) -> int:
    """Seal every summary whose review hold is over into batches; returns how many were sealed."""
    public, private = store.device_key(study.study_id)
    device_key = Ed25519PrivateKey.from_private_bytes(private)
    if keys.encode_public(device_key.public_key()) != public:
        raise StudyError(f"the device key of study {study.study_id} is damaged; leave and join the study again")
    study_key = keys.x25519_public(study.manifest.hpke_public_key)
    sealed = 0
    while len(store.batches_to_send(study.study_id)) < MAX_UNSENT_BATCHES:
        ids = store.due_for_upload(study.study_id, now, batch_size)
        if not ids:
            return sealed
        summaries = store.read_summaries(ids=ids)[0]
        unreadable = sorted(set(ids) - {s.id for s in summaries})
        if unreadable:  # damaged rows cannot be sent: a counted loss, never a silent one
            store.drop_from_outbox(study.study_id, unreadable, "damaged before upload")
        ids = sorted(s.id for s in summaries)
        if not ids:
            continue
        plaintext = envelope.batch_plaintext(wire_form(summaries, study))
        context = envelope.BatchContext(study.study_id, study.enrollment_id, uuid.uuid4().hex, study.manifest.key_id)
        upload = envelope.make_upload(plaintext, study_key, context, device_key)
        if store.seal_batch(study_id=study.study_id, batch_id=context.batch_id, upload=upload.to_json(),
                            plaintext_sha256=hashlib.sha256(plaintext).hexdigest(), summary_ids=ids):
            sealed += len(ids)
    return sealed


@dataclass(frozen=True)
class Preview:
    """The next upload, decoded: exactly what the collector will hold, sealed for the study."""

    study_id: str
    summaries: list[dict]  # the wire form of each summary in the next upload
    sha256: str | None  # of the upload's plaintext (the canonical, padded batch)
    frozen: bool  # already sealed: these exact bytes go next
    held: list[tuple[str, str]]  # (summary id, due) still in review after it


def preview(store: Store, study: Study, now: datetime) -> Preview:
    pending = store.batches_to_send(study.study_id)
    if pending:
        batch = pending[0]
        summaries = store.read_summaries(ids=store.batch_summary_ids(batch["batch_id"]))[0]
        frozen, sha = True, batch["plaintext_sha256"]
        shown = wire_form(summaries, study)
        if hashlib.sha256(envelope.batch_plaintext(shown)).hexdigest() != sha:
            raise StudyError("the next upload does not match its summaries any more; run `ime-agent forget` "
                             "on what you do not want sent, then preview again")
    else:
        ids = store.due_for_upload(study.study_id, now, defaults.SYNC_BATCH_SUMMARIES)
        shown = wire_form(store.read_summaries(ids=ids)[0], study) if ids else []
        frozen = False
        sha = hashlib.sha256(envelope.batch_plaintext(shown)).hexdigest() if shown else None
    in_next = {s.id for s in shown}
    held = [(sid, due) for sid, due in store.held(study.study_id) if sid not in in_next]
    return Preview(study.study_id, [s.to_wire() for s in shown], sha, frozen, held)

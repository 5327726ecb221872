"""Joining a study: the manifest checked before anything else, the device key made, the device enrolled.

The manifest's signature and dates are checked before the join code is used, so a
refused manifest leaves the profile free to join again. The categories shared
with the study are only ones the participant also consented to on this device
(health only when named). The device signing key is made here and kept in the
profile's store, sealed under the profile key; the collector only ever sees its
public half.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ime_agent import consent
from ime_agent.errors import StudyError
from ime_agent.store import Store
from ime_agent.sync.client import CollectorClient, fetch_manifest
from ime_wire import keys, manifest as manifests
from ime_wire.errors import InvalidManifest
from ime_wire.joincode import normalise


def read_manifest(source: str, now, *, transport=None) -> tuple[bytes, manifests.Manifest]:
    """A study's signed manifest from a file or an https URL, checked (signature, fields, dates)."""
    if source.startswith(("https://", "http://")):
        data = fetch_manifest(source, transport=transport)
    else:
        try:
            data = manifests.read_file(source)
        except InvalidManifest as exc:
            raise StudyError(f"{exc}; pass the study's study.json or its https URL") from None
    try:
        return data, manifests.load(data, now=now, source=source)
    except InvalidManifest as exc:
        raise StudyError(str(exc)) from None


def shareable(store: Store, manifest: manifests.Manifest, named: tuple[str, ...]) -> tuple[str, ...]:
    """The categories that may be shared: asked for by the study, consented on this device, and
    (health) named by the participant. ``named``: the participant's --category choices, if any."""
    local = set(consent.consented(store))
    for category in named:
        consent.check_categories([category])
        if category not in manifest.categories:
            raise StudyError(f"the study does not collect {category}; it asks for {', '.join(manifest.categories)}")
        if category not in local:
            raise StudyError(f"you have not consented to {category} on this device; run "
                             f"`ime-agent consent grant --category {category}` first")
    if named:
        return tuple(c for c in manifest.categories if c in named)
    chosen = tuple(c for c in manifest.categories if c in local and c != "health")
    if not chosen:
        raise StudyError("none of the categories this study asks for is consented on this device; run "
                         f"`ime-agent consent grant --category C` for some of: {', '.join(manifest.categories)}")
    return chosen


@dataclass(frozen=True)
class Joined:
    study_id: str
    enrollment_id: str
    categories: tuple[str, ...]


def join(store: Store, data: bytes, manifest: manifests.Manifest, code: str, categories: tuple[str, ...],
         client_factory=CollectorClient) -> Joined:
    """Enroll with ``code`` and record the study; nothing is recorded if the collector refuses."""
    try:
        code = normalise(code)
    except ValueError as exc:
        raise StudyError(str(exc)) from None
    if any(row["study_id"] == manifest.study_id for row in store.studies()):
        raise StudyError(f"this profile is already in the study {manifest.title!r}; see `ime-agent study status`")
    device_key = Ed25519PrivateKey.generate()
    with client_factory(manifest.collector_url) as client:
        enrollment_id = client.enroll(manifest.study_id, code, device_key)
    store.add_study(study_id=manifest.study_id, manifest=data, enrollment_id=enrollment_id,
                    categories=categories, device_public=keys.encode_public(device_key.public_key()),
                    device_private=keys.private_bytes(device_key))
    return Joined(manifest.study_id, enrollment_id, categories)


def describe(manifest: manifests.Manifest) -> str:
    """The manifest in plain words, as the participant sees it before joining."""
    hold = manifest.review_hold_seconds
    hold_words = "none: summaries are sent at the next sync" if hold == 0 else _duration(hold)
    slots = ", ".join(manifest.slots) or "none"
    return "\n".join([
        f"Study:            {manifest.title}",
        f"Run by:           {manifest.organisation or '(not stated)'}",
        f"Contact:          {manifest.contact or '(not stated)'}",
        f"Ethics approval:  {manifest.ethics_ref or '(not stated)'}",
        f"Runs:             {manifest.starts} to {manifest.ends}",
        f"Collects:         summaries of {', '.join(manifest.categories)} (details: {slots}); never your text",
        f"Review hold:      {hold_words} (until then you can see them with `ime-agent study preview` and "
        "delete them with `ime-agent forget`)",
        f"Sent to:          {manifest.collector_url} (encrypted for the study; the server cannot read it), "
        f"kept there {manifest.collector_retention_days} days",
        f"Signing key:      {manifest.fingerprint}  (compare with the study's information sheet)",
        "",
        manifest.information.strip(),
    ]).rstrip()


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"

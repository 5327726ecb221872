"""The wire contract on its own: summaries, manifests, envelopes, signed requests, URLs, buckets."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings, strategies as st

from ime_wire import envelope, keys, manifest, signing, timebucket, urls, vocabulary
from ime_wire.errors import BadSignature, EnvelopeError, InvalidManifest, InvalidSummary
from ime_wire.summary import Summary


def summary(**changes) -> Summary:
    base = Summary(secrets.token_hex(16), "2026-11-30T13:45:00Z", "chat", "en", "travel", 0.9,
                   {"destination": "Japan", "party": "family"}, "intent-en-1")
    return replace(base, **changes)


# --- summaries -----------------------------------------------------------------------------


@pytest.mark.parametrize("changes, words", [
    ({"id": "not-hex"}, "'id'"),
    ({"bucket": "2026-11-30T13:46:00Z"}, "'bucket'"),
    ({"bucket": "yesterday"}, "'bucket'"),
    ({"app_category": "firefox"}, "'app_category'"),
    ({"lang": "fr"}, "'lang'"),
    ({"intent": "none"}, "'intent'"),
    ({"confidence": float("nan")}, "'confidence'"),
    ({"confidence": 1.5}, "'confidence'"),
    ({"confidence": True}, "'confidence'"),
    ({"model_id": "Model With Spaces"}, "'model_id'"),
    ({"slots": {"destination": "my aunt's flat"}}, "slot 'destination'"),
    ({"slots": {"product": "laptop"}}, "does not belong to intent 'travel'"),
    ({"slots": {"free_text": "anything"}}, "slot name"),
])
def test_a_summary_outside_the_vocabulary_is_refused(changes, words):
    with pytest.raises(InvalidSummary, match=words):
        summary(**changes).to_wire()


def test_wire_form_round_trips_and_refuses_extra_fields():
    s = summary()
    assert Summary.from_wire(json.loads(json.dumps(s.to_wire()))) == s
    with pytest.raises(InvalidSummary, match="unknown fields: text"):
        Summary.from_wire({**s.to_wire(), "text": "the typed text"})
    with pytest.raises(InvalidSummary, match="lacks slots"):
        Summary.from_wire({k: v for k, v in s.to_wire().items() if k != "slots"})


def test_closed_slots_keep_only_the_intents_slots_from_the_vocabulary():
    assert vocabulary.closed_slots("travel", {"destination": "Japan", "product": "laptop", "party": "aunt"}) == \
        {"destination": "Japan"}
    assert vocabulary.app_category("org.mozilla.firefox") == "browser"
    assert vocabulary.app_category("jetbrains-pycharm") == "code"
    assert vocabulary.app_category(None) == "other"


# --- manifests ----------------------------------------------------------------------------


def make_manifest(**changes):
    signing_key, hpke = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    today = datetime.now(UTC).date()
    m = manifest.Manifest(
        study_id=secrets.token_hex(16), title="Plans (test)", organisation="Example Lab",
        contact="lab@example.org", ethics_ref="EX-1", information="An invented study.",
        categories=("purchase", "travel"), slots=("product", "destination"),
        collector_url="https://collector.example.org", hpke_public_key=keys.encode_public(hpke.public_key()),
        key_id=keys.key_id(hpke.public_key()), signing_key=keys.encode_public(signing_key.public_key()),
        review_hold_seconds=86400, collector_retention_days=30, starts=(today - timedelta(days=1)).isoformat(),
        ends=(today + timedelta(days=30)).isoformat(), issued_at="2026-11-30T00:00:00Z")
    m = replace(m, **changes)
    return m, signing_key, hpke


def test_a_signed_manifest_loads_and_any_changed_byte_is_refused():
    m, key, _ = make_manifest()
    data = manifest.sign(m, key)
    assert manifest.load(data, now=datetime.now(UTC)) == m
    for offset in range(0, len(data), 7):  # every 7th byte, each flipped alone
        changed = bytearray(data)
        changed[offset] ^= 0x01
        with pytest.raises(InvalidManifest):
            manifest.load(bytes(changed))


def test_unsigned_expired_not_yet_open_and_foreign_key_manifests_are_refused():
    m, key, _ = make_manifest()
    document = json.loads(manifest.sign(m, key))
    with pytest.raises(InvalidManifest, match="not signed"):
        manifest.load(json.dumps({"manifest": document["manifest"]}).encode())
    today = datetime.now(UTC).date()
    old, old_key, _ = make_manifest(starts=(today - timedelta(days=60)).isoformat(),
                                    ends=(today - timedelta(days=1)).isoformat())
    with pytest.raises(InvalidManifest, match="ended on"):
        manifest.load(manifest.sign(old, old_key), now=datetime.now(UTC))
    later, later_key, _ = make_manifest(starts=(today + timedelta(days=5)).isoformat())
    with pytest.raises(InvalidManifest, match="starts on"):
        manifest.load(manifest.sign(later, later_key), now=datetime.now(UTC))
    with pytest.raises(InvalidManifest, match="another signing key"):
        manifest.sign(m, Ed25519PrivateKey.generate())
    with pytest.raises(InvalidManifest, match="plain http"):
        manifest.sign(replace(m, collector_url="http://collector.example.org"), key)


# --- envelopes ----------------------------------------------------------------------------


def test_a_batch_opens_only_with_its_key_and_its_exact_context():
    hpke, device = X25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    context = envelope.BatchContext(secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16),
                                    keys.key_id(hpke.public_key()))
    batch = [summary(), summary(intent="purchase", slots={"product": "laptop"})]
    upload = envelope.make_upload(envelope.batch_plaintext(batch), hpke.public_key(), context, device)
    received = envelope.Upload.from_json(upload.to_json())
    received.verify(device.public_key())
    assert envelope.open_batch(received.ciphertext, hpke, received.context) == batch
    for field in ("study_id", "enrollment_id", "batch_id"):
        moved = replace(context, **{field: secrets.token_hex(16)})
        with pytest.raises(EnvelopeError):
            envelope.open_batch(received.ciphertext, hpke, moved)
    with pytest.raises(EnvelopeError):
        envelope.open_batch(received.ciphertext, X25519PrivateKey.generate(), context)
    with pytest.raises(BadSignature):
        received.verify(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(BadSignature):
        replace(received, context=replace(context, batch_id=secrets.token_hex(16))).verify(device.public_key())


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 40))
def test_padding_hides_the_batch_size_within_a_block(n):
    plaintext = envelope.batch_plaintext([summary() for _ in range(n)])
    assert len(plaintext) % envelope.PAD_BYTES == 0


# --- signed requests, URLs, buckets -------------------------------------------------------


def test_signed_requests_hold_only_for_that_request_and_a_short_while():
    key = Ed25519PrivateKey.generate()
    headers = signing.sign_request(key, "s", "GET", "/v1/x?after=1", b"", 1_000_000)
    signing.verify_request(key.public_key(), headers, "GET", "/v1/x?after=1", b"", 1_000_100)
    for method, target, body, now in (("POST", "/v1/x?after=1", b"", 1_000_000), ("GET", "/v1/x?after=2", b"", 1_000_000),
                                      ("GET", "/v1/x?after=1", b"x", 1_000_000), ("GET", "/v1/x?after=1", b"", 1_000_400)):
        with pytest.raises(BadSignature):
            signing.verify_request(key.public_key(), headers, method, target, body, now)


@pytest.mark.parametrize("url, ok", [
    ("https://collector.example.org", True), ("http://127.0.0.1:8470", True), ("http://[::1]:80", True),
    ("http://localhost:1", True), ("http://collector.example.org", False), ("ftp://x", False),
    ("https://user:pw@collector.example.org", False), ("https://c.example.org/?q=1", False), ("", False),
])
def test_collector_urls(url, ok):
    if ok:
        assert urls.check_collector_url(url + "/") == url
    else:
        with pytest.raises(ValueError):
            urls.check_collector_url(url)


def test_buckets_and_coarser_precisions():
    moment = datetime(2026, 11, 30, 13, 59, 59, tzinfo=UTC)
    assert timebucket.bucket_of(moment) == "2026-11-30T13:45:00Z"
    assert timebucket.coarsen("2026-11-30T13:45:00Z", "1h") == "2026-11-30T13:00:00Z"
    assert timebucket.coarsen("2026-11-30T13:45:00Z", "1d") == "2026-11-30T00:00:00Z"
    assert timebucket.coarsen("2026-11-30T13:45:00Z", "1w") == "2026-11-30T00:00:00Z"  # a Monday
    assert not timebucket.is_bucket("2026-11-30T13:46:00Z") and not timebucket.is_bucket(42)

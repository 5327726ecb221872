"""The wire contract's helpers for bulk readers: check_wire, the cached bucket check, open_raw."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings, strategies as st

from ime_wire import keys
from ime_wire.canonical import canonical
from ime_wire.envelope import BatchContext, open_batch, open_raw, seal
from ime_wire.errors import EnvelopeError, InvalidSummary
from ime_wire.summary import Summary, check_wire
from ime_wire.timebucket import is_bucket

GOOD = {"id": "a" * 32, "bucket": "2026-03-02T10:15:00Z", "app_category": "browser", "lang": "en",
        "intent": "travel", "confidence": 0.8, "slots": {"destination": "Japan"}, "model_id": "intent-en-1"}

values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40),
                   st.sampled_from(["browser", "zh", "purchase", "health", "Japan", "laptop", "2026-03-02T10:00:00Z",
                                    "2026-03-02T10:07:00Z", "b" * 32]))
summaries = st.fixed_dictionaries({}, optional={
    "id": values, "bucket": values, "app_category": values, "lang": values, "intent": values,
    "confidence": values, "model_id": values, "extra": values,
    "slots": st.dictionaries(st.sampled_from(["destination", "product", "who", "colour"]), values, max_size=3)})


def outcome(check, obj):
    try:
        check(obj)
    except InvalidSummary as exc:
        return str(exc)
    return "ok"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(summaries, st.builds(lambda changes: {**GOOD, **changes}, summaries)))
def test_check_wire_accepts_and_refuses_exactly_what_from_wire_does(obj):
    assert outcome(check_wire, obj) == outcome(Summary.from_wire, obj)


def test_check_wire_accepts_a_valid_summary_and_names_a_bad_field():
    check_wire(GOOD)
    with pytest.raises(InvalidSummary, match="'destination'"):
        check_wire({**GOOD, "slots": {"destination": "Springfield"}})


@pytest.mark.parametrize("text, ok", [("2026-03-02T10:15:00Z", True), ("2026-03-02T10:16:00Z", False),
                                      ("2026-02-30T10:15:00Z", False), ("not a time", False), (None, False)])
def test_the_cached_bucket_check_gives_the_same_answer_every_time(text, ok):
    assert [is_bucket(text) for _ in range(3)] == [ok] * 3


def test_open_raw_returns_the_frame_unvalidated_and_open_batch_still_validates():
    study = X25519PrivateKey.generate()
    context = BatchContext(secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16),
                           keys.key_id(study.public_key()))
    bad = {**GOOD, "app_category": "photoshop"}
    ciphertext = seal(canonical({"schema_version": 1, "summaries": [GOOD, bad]}), study.public_key(), context)
    assert open_raw(ciphertext, study, context) == [GOOD, bad]
    with pytest.raises(InvalidSummary):
        open_batch(ciphertext, study, context)
    with pytest.raises(EnvelopeError):
        open_raw(ciphertext, X25519PrivateKey.generate(), context)
    empty = seal(canonical({"schema_version": 1, "summaries": []}), study.public_key(), context)
    with pytest.raises(InvalidSummary):
        open_raw(empty, study, context)

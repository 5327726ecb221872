"""Envelopes: a batch of summaries sealed to the study's key and signed by the device.

Sealing is HPKE (RFC 9180) base mode, X25519 / HKDF-SHA256 / AES-256-GCM, from
``cryptography``. HPKE here has no separate associated data, so the batch's
context — study, enrollment, batch id, schema version and the study key's id —
is bound into HPKE's ``info``, which its key schedule authenticates: a
ciphertext moved to another enrollment, study or batch does not open.

The plaintext is the canonical JSON of the batch, padded with blanks to a whole
number of :data:`PAD_BYTES`, so its size tells the collector little more than
roughly how many summaries it holds. The device signs the context and the
ciphertext's hash with its Ed25519 key; the collector checks that signature
without being able to read anything.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ime_wire import SCHEMA_VERSION
from ime_wire.canonical import b64, canonical, unb64
from ime_wire.errors import BadSignature, EnvelopeError, InvalidSummary
from ime_wire.summary import Summary

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
PAD_BYTES = 1024
MAX_SUMMARIES = 1000
#: The largest upload a collector must accept (a full batch of long summaries fits well within).
MAX_UPLOAD_BYTES = 1024 * 1024
_INFO = b"ime-wire/batch/v1\x00"
_UPLOAD = b"ime-wire/upload/v1\x00"
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class BatchContext:
    """What a batch belongs to; all of it is authenticated, none of it is secret."""

    study_id: str
    enrollment_id: str
    batch_id: str
    key_id: str
    schema_version: int = SCHEMA_VERSION

    def check(self) -> None:
        for name in ("study_id", "enrollment_id", "batch_id"):
            if not isinstance(getattr(self, name), str) or not _HEX32.match(getattr(self, name)):
                raise EnvelopeError(f"'{name}' must be 32 lower-case hex digits")
        if not isinstance(self.key_id, str) or not _HEX16.match(self.key_id):
            raise EnvelopeError("'key_id' must be 16 lower-case hex digits")
        if type(self.schema_version) is not int:
            raise EnvelopeError("'schema_version' must be a whole number")

    def info(self) -> bytes:
        return _INFO + canonical({"study_id": self.study_id, "enrollment_id": self.enrollment_id,
                                  "batch_id": self.batch_id, "key_id": self.key_id,
                                  "schema_version": self.schema_version})


def batch_plaintext(summaries: list[Summary]) -> bytes:
    """The canonical, padded bytes that are sealed (also what a participant's preview hashes)."""
    if not summaries:
        raise InvalidSummary("a batch holds at least one summary")
    if len(summaries) > MAX_SUMMARIES:
        raise InvalidSummary(f"a batch holds at most {MAX_SUMMARIES} summaries")
    body = canonical({"schema_version": SCHEMA_VERSION, "summaries": [s.to_wire() for s in summaries]})
    return body + b" " * (-len(body) % PAD_BYTES)


def seal(plaintext: bytes, study_key: X25519PublicKey, context: BatchContext) -> bytes:
    context.check()
    return SUITE.encrypt(plaintext, study_key, info=context.info())


def open_batch(ciphertext: bytes, study_key: X25519PrivateKey, context: BatchContext) -> list[Summary]:
    """Decrypt and validate a batch; :class:`EnvelopeError` if it does not open,
    :class:`InvalidSummary` if what it holds breaks the schema or the vocabulary."""
    return [Summary.from_wire(s) for s in open_raw(ciphertext, study_key, context)]


def open_raw(ciphertext: bytes, study_key: X25519PrivateKey, context: BatchContext) -> list:
    """Decrypt a batch and check its frame (schema version, 1 to :data:`MAX_SUMMARIES` entries)
    but not the summaries: for a reader that keeps the valid ones and counts the others
    (pass each to :meth:`Summary.from_wire`). Errors as :func:`open_batch`."""
    context.check()
    try:
        plaintext = SUITE.decrypt(ciphertext, study_key, info=context.info())
    except Exception:  # InvalidTag, or a malformed encapsulated key
        raise EnvelopeError("the envelope does not open with this study key and context") from None
    try:
        body = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidSummary("the batch is not JSON") from None
    if not isinstance(body, dict) or body.get("schema_version") != context.schema_version \
            or not isinstance(body.get("summaries"), list) or set(body) != {"schema_version", "summaries"}:
        raise InvalidSummary("the batch does not follow its schema version")
    if not body["summaries"] or len(body["summaries"]) > MAX_SUMMARIES:
        raise InvalidSummary(f"a batch holds 1 to {MAX_SUMMARIES} summaries")
    return body["summaries"]


@dataclass(frozen=True)
class Upload:
    """One sealed, signed batch as it travels to the collector and back to the researcher."""

    context: BatchContext
    ciphertext: bytes
    signature: bytes

    def signed_bytes(self) -> bytes:
        return _UPLOAD + self.context.info() + hashlib.sha256(self.ciphertext).digest()

    def verify(self, device_key: Ed25519PublicKey) -> None:
        try:
            device_key.verify(self.signature, self.signed_bytes())
        except InvalidSignature:
            raise BadSignature("the batch's signature does not match its device key") from None

    def to_dict(self) -> dict:
        c = self.context
        return {"study_id": c.study_id, "enrollment_id": c.enrollment_id, "batch_id": c.batch_id,
                "key_id": c.key_id, "schema_version": c.schema_version,
                "ciphertext": b64(self.ciphertext), "signature": b64(self.signature)}

    def to_json(self) -> bytes:
        return canonical(self.to_dict())

    @classmethod
    def from_dict(cls, obj: object) -> "Upload":
        """Structural checks only (no key needed); :class:`EnvelopeError` names the problem."""
        names = {"study_id", "enrollment_id", "batch_id", "key_id", "schema_version", "ciphertext", "signature"}
        if not isinstance(obj, dict) or set(obj) != names:
            raise EnvelopeError(f"an upload is an object with exactly: {', '.join(sorted(names))}")
        context = BatchContext(obj["study_id"], obj["enrollment_id"], obj["batch_id"], obj["key_id"],
                               obj["schema_version"])
        context.check()
        try:
            ciphertext = unb64(obj["ciphertext"], "ciphertext")
            signature = unb64(obj["signature"], "signature")
        except ValueError as exc:
            raise EnvelopeError(str(exc)) from None
        if len(signature) != 64 or len(ciphertext) < 32 + 16:
            raise EnvelopeError("the upload's signature or ciphertext has the wrong size")
        return cls(context, ciphertext, signature)

    @classmethod
    def from_json(cls, data: bytes) -> "Upload":
        try:
            obj = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise EnvelopeError("the upload is not JSON") from None
        return cls.from_dict(obj)


def make_upload(plaintext: bytes, study_key: X25519PublicKey, context: BatchContext,
                device_key: Ed25519PrivateKey) -> Upload:
    """Seal ``plaintext`` (from :func:`batch_plaintext`) and sign it."""
    ciphertext = seal(plaintext, study_key, context)
    unsigned = Upload(context, ciphertext, b"")
    return Upload(context, ciphertext, device_key.sign(unsigned.signed_bytes()))

"""Signed HTTP requests: the study key (researcher) and device keys (participants)
authenticate to the collector without passwords or sessions.

The signature covers the method, the path with its query, a Unix time and the
body's SHA-256; the collector accepts it for :data:`WINDOW_SECONDS` either way
(clock skew). Replaying a request inside that window repeats an idempotent
action at most: every signed call is idempotent by design.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ime_wire.canonical import b64, unb64
from ime_wire.errors import BadSignature

KEY_HEADER = "Ime-Key"  # who signs: a study id (study key) or an enrollment id (device key)
TIME_HEADER = "Ime-Time"
SIGNATURE_HEADER = "Ime-Signature"
WINDOW_SECONDS = 300
_CONTEXT = b"ime-wire/request/v1\n"


def _message(method: str, target: str, timestamp: str, body: bytes) -> bytes:
    return _CONTEXT + "\n".join((method.upper(), target, timestamp, hashlib.sha256(body).hexdigest())).encode()


def sign_request(key: Ed25519PrivateKey, signer: str, method: str, target: str, body: bytes,
                 now: float) -> dict[str, str]:
    """Headers for a request to ``target`` (path and query, e.g. ``/v1/studies/x/batches?after=3``)."""
    timestamp = str(int(now))
    return {KEY_HEADER: signer, TIME_HEADER: timestamp,
            SIGNATURE_HEADER: b64(key.sign(_message(method, target, timestamp, body)))}


def verify_request(key: Ed25519PublicKey, headers, method: str, target: str, body: bytes, now: float) -> None:
    """Raise :class:`BadSignature` unless the headers sign this request, recently."""
    timestamp = headers.get(TIME_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise BadSignature(f"missing or malformed {TIME_HEADER} header")
    if abs(int(timestamp) - now) > WINDOW_SECONDS:
        raise BadSignature(f"the request's time is more than {WINDOW_SECONDS} s from the server's; "
                           "check the clock")
    try:
        key.verify(unb64(signature, "signature"), _message(method, target, timestamp, body))
    except (ValueError, InvalidSignature):
        raise BadSignature("the request's signature does not verify") from None

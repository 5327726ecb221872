"""Key encodings and fingerprints shared by the three programs (``cryptography`` only).

Public keys travel as URL-safe base64 of their raw 32 bytes. A key id is short
and stable (it names the study's HPKE key inside every envelope); a fingerprint
is what a person compares by eye (the information sheet prints the study's).
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ime_wire.canonical import b64, unb64

_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw
_RAW_PRIV = serialization.PrivateFormat.Raw


def public_bytes(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(_RAW, _RAW_PUB)


def private_bytes(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(_RAW, _RAW_PRIV, serialization.NoEncryption())


def encode_public(key: Ed25519PublicKey | X25519PublicKey) -> str:
    return b64(public_bytes(key))


def ed25519_public(text: object, what: str = "signing key") -> Ed25519PublicKey:
    raw = unb64(text, what)
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def x25519_public(text: object, what: str = "encryption key") -> X25519PublicKey:
    raw = unb64(text, what)
    if len(raw) != 32:
        raise ValueError(f"{what} must be 32 bytes")
    return X25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PublicKey | X25519PublicKey) -> str:
    """16 hex digits of the SHA-256 of the raw public key."""
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


def fingerprint(key: Ed25519PublicKey | X25519PublicKey) -> str:
    """128 bits of the SHA-256 of the raw public key, as 8 groups of 4 hex digits."""
    digest = hashlib.sha256(public_bytes(key)).hexdigest()[:32]
    return " ".join(digest[i:i + 4] for i in range(0, 32, 4))


def normalise_fingerprint(text: str) -> str:
    """What a person typed or pasted (spaces, colons, upper case) in the form of :func:`fingerprint`."""
    digits = "".join(ch for ch in text.lower() if ch in "0123456789abcdef")
    return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))

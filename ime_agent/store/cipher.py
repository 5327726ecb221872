"""At-rest encryption of the store's rows (``cryptography``'s AES-256-GCM, nothing home-made).

A row's secret columns are sealed together, as one canonical JSON value padded
with blanks to a whole number of :data:`PAD_BYTES`, so the ciphertext's length
says nothing about the app category or the slots. Every nonce is fresh (96 bits,
random). The associated data is the row's table and *all* of its plain columns
(id, bucket, intent, model id): a sealed value copied to another row, or a plain
column edited by hand, makes the row fail to open instead of reading as something
else.
"""

from __future__ import annotations

import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ime_wire.canonical import canonical

KEY_BYTES = 32
NONCE_BYTES = 12
PAD_BYTES = 256
_CHECK = b"ime-agent key check v1"
_CHECK_AAD = b"key-check"


class Damaged(Exception):
    """A sealed value does not open: changed, moved, or sealed under another key (internal)."""


class Cipher:
    """AES-GCM with a random nonce per value; ``aad`` names the value's place."""

    def __init__(self, key: bytes):
        if len(key) != KEY_BYTES:
            raise ValueError("key must be 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "Cipher(<key hidden>)"

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        if not isinstance(sealed, bytes) or len(sealed) < NONCE_BYTES + 16:
            raise Damaged()
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise Damaged() from None

    # -- rows ------------------------------------------------------------------------------

    def seal_row(self, table: str, plain: dict, secret: dict) -> bytes:
        body = canonical(secret)
        return self.seal(body + b" " * (-len(body) % PAD_BYTES), _row_aad(table, plain))

    def open_row(self, table: str, plain: dict, sealed: bytes) -> dict:
        try:
            value = json.loads(self.open(sealed, _row_aad(table, plain)))
        except ValueError:
            raise Damaged() from None
        if not isinstance(value, dict):
            raise Damaged()
        return value

    # -- telling a wrong key -----------------------------------------------------------------

    def check_value(self) -> bytes:
        """A sealed constant stored with the profile, to tell a wrong key at open time."""
        return self.seal(_CHECK, _CHECK_AAD)

    def matches(self, check: bytes) -> bool:
        try:
            return self.open(check, _CHECK_AAD) == _CHECK
        except Damaged:
            return False


def _row_aad(table: str, plain: dict) -> bytes:
    return f"ime-agent/{table}/v2\0".encode() + canonical(plain)

"""Pseudonyms: a keyed hash (HMAC-SHA256) of the enrollment id, under a key the researcher holds.

A fresh random key per export means two exports cannot be linked. A saved key
(a file of 64 hex digits, mode 0600, never written into an export) gives the
same pseudonyms again, so a researcher can follow participants across exports.
Without the key, a pseudonym says nothing about the enrollment id: not even the
collector, which knows every enrollment id, can map one to the other.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ime_research.errors import ResearchError
from ime_wire import files

KEY_BYTES = 32
_CONTEXT = b"ime-research/pseudonym/v1\x00"
_KEY_ID_CONTEXT = b"ime-research/pseudonym-key-id/v1\x00"


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def pseudonym(key: bytes, enrollment_id: str) -> str:
    """16 hex digits (64 bits)."""
    return hmac.new(key, _CONTEXT + enrollment_id.encode(), hashlib.sha256).hexdigest()[:16]


def key_id(key: bytes) -> str:
    """Names the key in an export's manifest, so exports made with the same key can be told apart."""
    return hashlib.sha256(_KEY_ID_CONTEXT + key).hexdigest()[:16]


_KEY_FILE_MAX = 4 * KEY_BYTES  # 64 hex digits and whitespace; a larger file is no key


def load_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(files.read_small(path, _KEY_FILE_MAX).decode("ascii").strip())
    except (OSError, UnicodeDecodeError, ValueError):  # FileRefused is a ValueError
        raise ResearchError(f"{path} is not a pseudonym key (64 hex digits); save one with "
                            "--save-pseudonym-key") from None
    if len(key) != KEY_BYTES:
        raise ResearchError(f"{path} is not a pseudonym key (64 hex digits); save one with --save-pseudonym-key")
    return key


def save_key(path: Path, key: bytes) -> None:
    """Write the key readable by its owner only; never overwrite one (its pseudonyms would be lost)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ResearchError(f"{path} exists; pass it with --pseudonym-key to reuse it, or choose a new "
                            "file name") from None
    except OSError as exc:
        raise ResearchError(f"cannot write the pseudonym key to {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")

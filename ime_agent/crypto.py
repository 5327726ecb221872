"""Keys and at-rest encryption for the local store (``cryptography`` only, nothing home-made).

Sensitive columns are sealed with AES-256-GCM. Every value gets a fresh 96-bit
random nonce, and associated data that binds it to its place (table, row id,
column): a value copied into another row or column fails to decrypt instead of
being read as something else.

Where the 32-byte profile key lives (chosen when a profile is created, recorded
in the store; see docs/privacy-at-rest.md for what each protects against):

- ``keyring``: the OS keyring (Secret Service, macOS Keychain, Windows Credential
  Locker) through the ``keyring`` package. Probed with a deadline, so a desktop
  keyring that would hang or prompt cannot block the agent.
- ``file``: a random key in ``<data dir>/key``, mode 0600.
- ``passphrase``: derived from a passphrase with Argon2id (RFC 9106 parameters);
  only a random salt is stored. The passphrase comes from ``IME_AGENT_PASSPHRASE``
  or a prompt, never from the command line.
"""

from __future__ import annotations

import base64
import os
import stat
import sys
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from ime_agent.errors import ImeAgentError

KEY_BYTES = 32
NONCE_BYTES = 12
SOURCES = ("keyring", "file", "passphrase")
KEY_FILE = "key"
KEYRING_SERVICE = "ime-agent"
KEYRING_TIMEOUT = 3.0
#: RFC 9106's second recommended option: t=3, p=4, m=64 MiB.
ARGON2_PARAMS = {"iterations": 3, "lanes": 4, "memory_cost": 64 * 1024}
_CHECK = b"ime-agent key check v1"


class KeyUnavailable(ImeAgentError):
    """The profile key is missing, unreadable or wrong."""


class WrongKey(KeyUnavailable):
    """The key (or passphrase) does not open this profile."""


class DecryptError(KeyUnavailable):
    """A stored value does not decrypt: it was changed, moved, or sealed under another key."""


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
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise DecryptError(
                "a stored value does not decrypt with this profile's key (tampered, or another key); "
                "run `ime-agent forget --all` to start clean"
            ) from None

    def check_value(self) -> bytes:
        """A sealed constant stored with the profile, to tell a wrong key at open time."""
        return self.seal(_CHECK, b"key-check")

    def verify(self, check: bytes, hint: str) -> None:
        try:
            ok = self.open(check, b"key-check") == _CHECK
        except DecryptError:
            ok = False
        if not ok:
            raise WrongKey(hint)


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


# --- passphrase -------------------------------------------------------------------------


def new_salt() -> bytes:
    return os.urandom(16)


def derive_key(passphrase: str, salt: bytes, params: dict | None = None) -> bytes:
    if not passphrase:
        raise KeyUnavailable("the passphrase is empty; set IME_AGENT_PASSPHRASE or type one at the prompt")
    params = params or ARGON2_PARAMS
    kdf = Argon2id(salt=salt, length=KEY_BYTES, **params)
    return kdf.derive(passphrase.encode("utf-8"))


# --- key file ---------------------------------------------------------------------------


def read_key_file(path: Path) -> bytes:
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeyUnavailable(
            f"key file {path} is missing; restore it from your backup (without it the stored "
            "summaries cannot be read), or move the data dir away to start a new profile"
        ) from None
    except OSError as exc:
        raise KeyUnavailable(f"cannot read key file {path} ({exc.strerror}); check its owner and permissions") from None
    if sys.platform != "win32" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyUnavailable(f"key file {path} is readable by other users; run `chmod 600 {path}`")
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyUnavailable(
            f"key file {path} is corrupt (expected a base64 32-byte key); restore it from your "
            "backup, or move the data dir away to start a new profile"
        )
    return key


def write_key_file(path: Path, key: bytes) -> None:
    """Create the key file 0600; never overwrites an existing one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


# --- OS keyring -------------------------------------------------------------------------


def _with_deadline(fn):
    """Run ``fn`` on a daemon thread; ``None`` if it fails or is not done by the deadline."""
    box: list = []

    def run():
        try:
            box.append(fn())
        except Exception:  # any backend failure means "no usable keyring"
            box.append(None)

    thread = threading.Thread(target=run, name="ime-agent-keyring", daemon=True)
    thread.start()
    thread.join(KEYRING_TIMEOUT)
    return box[0] if box else None


def keyring_usable() -> bool:
    """True when a real OS keyring backend is configured (headless Linux has none)."""

    def probe():
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        return not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 0) > 0

    return bool(_with_deadline(probe))


def keyring_get(account: str) -> bytes | None:
    def get():
        import keyring

        return keyring.get_password(KEYRING_SERVICE, account)

    value = _with_deadline(get)
    if value is None:
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return key if len(key) == KEY_BYTES else None


def keyring_set(account: str, key: bytes) -> bool:
    def put():
        import keyring

        keyring.set_password(KEYRING_SERVICE, account, base64.b64encode(key).decode("ascii"))
        return True

    return bool(_with_deadline(put))

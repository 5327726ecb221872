"""Where the profile key comes from (``cryptography`` and ``keyring`` only, nothing home-made).

The 32-byte profile key seals the store's secret columns (:mod:`.cipher`) and the
device signing keys of the studies the profile joined. It lives in one of three
places, chosen when the profile is created and recorded in the store (what each
protects against is in docs/privacy-at-rest.md):

- ``keyring``: the OS keyring (Secret Service, macOS Keychain, Windows Credential
  Locker), probed with a deadline so a keyring that would hang cannot block the agent;
- ``file``: a random key in ``<data dir>/key``, mode 0600, read only if it is a small
  regular file of ours (never a link, a device or a pipe);
- ``passphrase``: derived with Argon2id (RFC 9106's second option); only a random
  salt is stored. The passphrase comes from ``IME_AGENT_PASSPHRASE`` or a prompt.

Key material is never overwritten: a profile whose key records are damaged, or that
already holds data, is refused with an explanation instead of being given a new key
that would make its data unreadable for good.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from ime_agent import env
from ime_agent.errors import KeyUnavailable, WrongKey
from ime_agent.store.cipher import KEY_BYTES, Cipher

SOURCES = ("keyring", "file", "passphrase")
KEY_FILE = "key"
KEYRING_SERVICE = "ime-agent"
KEYRING_TIMEOUT = 3.0
#: RFC 9106's second recommended option: t=3, p=4, m=64 MiB.
ARGON2_PARAMS = {"iterations": 3, "lanes": 4, "memory_cost": 64 * 1024}
_KEY_FILE_MAX = 1024
#: The settings rows that hold key material; if any exists, none may be made anew.
KEY_SETTINGS = ("key_source", "key_check", "kdf")

Get = Callable[[str], "str | None"]
Put = Callable[[str, str], None]


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


class ProfileKey:
    """Finds (or, for a new profile, makes) the profile key and checks it against the store."""

    def __init__(self, data_dir: Path, get: Get, put: Put, *, source: str | None, passphrase: str | None,
                 prompt: Callable[[bool], str | None] | None):
        self.data_dir, self._get, self._put = data_dir, get, put
        self._source, self._passphrase, self._prompt = source, passphrase, prompt

    @property
    def is_new(self) -> bool:
        return all(self._get(name) is None for name in KEY_SETTINGS)

    def create(self, has_data: bool) -> Cipher:
        """Make and record a key for a new profile (inside the caller's write transaction)."""
        if has_data:
            raise KeyUnavailable(
                f"the store in {self.data_dir} holds data but its key records are missing (damaged); "
                "restore the data dir from a backup, or move it away to start a new profile")
        source = self._choose()
        if source == "passphrase":
            salt = os.urandom(16)
            key = derive_key(self._ask(new=True), salt)
            self._put("kdf", json.dumps({"salt": salt.hex(), **ARGON2_PARAMS}))
        else:
            key = new_key()
            if source == "keyring":
                if keyring_get(self._get("profile_id")) is not None:
                    raise KeyUnavailable("the OS keyring already holds a key for this profile id; move the data "
                                         "dir away to start a new profile (the old key is kept)")
                if not keyring_set(self._get("profile_id"), key):
                    source = "file"
            if source == "file":
                key = _new_key_file(self.data_dir / KEY_FILE, key)
        cipher = Cipher(key)
        self._put("key_source", source)
        self._put("key_check", cipher.check_value().hex())
        return cipher

    def load(self) -> Cipher:
        """The key of an existing profile, checked against its key-check value."""
        source, check = self._get("key_source"), self._get("key_check")
        if source not in SOURCES or check is None:
            raise KeyUnavailable(
                f"the key records of the store in {self.data_dir} are damaged (key_source or key_check); "
                "restore the data dir from a backup, or move it away to start a new profile")
        try:
            check_bytes = bytes.fromhex(check)
        except ValueError:
            raise KeyUnavailable(f"the key check of the store in {self.data_dir} is damaged; restore the data "
                                 "dir from a backup, or move it away to start a new profile") from None
        cipher = Cipher(self._key(source))
        if not cipher.matches(check_bytes):
            raise WrongKey({
                "passphrase": "wrong passphrase for this profile; set IME_AGENT_PASSPHRASE (or type at the prompt) "
                              "the passphrase used when the profile was created",
                "file": f"key file {self.data_dir / KEY_FILE} does not belong to this profile; restore the right one",
                "keyring": "the OS keyring holds another key for this profile; restore the right one",
            }[source])
        return cipher

    def _key(self, source: str) -> bytes:
        if source == "file":
            return read_key_file(self.data_dir / KEY_FILE)
        if source == "keyring":
            key = keyring_get(self._get("profile_id"))
            if key is None:
                raise KeyUnavailable(
                    "this profile's key is not available from the OS keyring (service ime-agent); unlock the "
                    "keyring and try again, or move the data dir away to start a new profile")
            return key
        try:
            kdf = json.loads(self._get("kdf") or "")
            salt = bytes.fromhex(kdf.pop("salt"))
            params = {name: int(kdf[name]) for name in ARGON2_PARAMS}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise KeyUnavailable(f"the passphrase settings of the store in {self.data_dir} are damaged; restore "
                                 "the data dir from a backup") from None
        return derive_key(self._ask(new=False), salt, params)

    def _choose(self) -> str:
        source = self._source or env.get("IME_AGENT_KEY_SOURCE")
        if source:
            if source not in SOURCES:
                raise KeyUnavailable(f"unknown key source {source!r}; use keyring, file or passphrase")
            return source
        if self._passphrase or env.get("IME_AGENT_PASSPHRASE"):
            return "passphrase"
        return "keyring" if keyring_usable() else "file"

    def _ask(self, new: bool) -> str:
        passphrase = self._passphrase or env.get("IME_AGENT_PASSPHRASE")
        if not passphrase and self._prompt is not None:
            passphrase = self._prompt(new)
        if not passphrase:
            raise KeyUnavailable(
                "this profile is protected by a passphrase: set IME_AGENT_PASSPHRASE, or run the command "
                "in a terminal to be asked for it")
        return passphrase


# --- passphrase -------------------------------------------------------------------------


def derive_key(passphrase: str, salt: bytes, params: dict | None = None) -> bytes:
    if not passphrase:
        raise KeyUnavailable("the passphrase is empty; set IME_AGENT_PASSPHRASE or type one at the prompt")
    try:
        secret = passphrase.encode("utf-8")
    except UnicodeEncodeError:
        raise KeyUnavailable("the passphrase is not valid UTF-8 text; set it again") from None
    return Argon2id(salt=salt, length=KEY_BYTES, **(params or ARGON2_PARAMS)).derive(secret)


# --- key file ---------------------------------------------------------------------------


def read_key_file(path: Path) -> bytes:
    """The key in ``path``; refuses anything but a small private regular file (never follows a link)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise KeyUnavailable(
            f"key file {path} is missing; restore it from your backup (without it the stored "
            "summaries cannot be read), or move the data dir away to start a new profile") from None
    except OSError as exc:
        reason = "it is a symbolic link" if path.is_symlink() else exc.strerror
        raise KeyUnavailable(f"cannot read key file {path} ({reason}); restore the key file itself") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyUnavailable(f"key file {path} is not a regular file; restore the key file itself")
        if sys.platform != "win32" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyUnavailable(f"key file {path} is readable by other users; run `chmod 600 {path}`")
        raw = os.read(fd, _KEY_FILE_MAX + 1)
    finally:
        os.close(fd)
    try:
        key = base64.b64decode(raw.strip(), validate=True) if len(raw) <= _KEY_FILE_MAX else b""
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyUnavailable(
            f"key file {path} is corrupt (expected a base64 32-byte key); restore it from your "
            "backup, or move the data dir away to start a new profile")
    return key


def _new_key_file(path: Path, key: bytes) -> bytes:
    """Create the key file 0600 and return its key; an existing one is used, never overwritten."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        # Left by a first open that died before recording it; nothing was sealed with it yet.
        return read_key_file(path)
    try:
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


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


def keyring_get(account: str | None) -> bytes | None:
    if not account:
        return None

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


def keyring_set(account: str | None, key: bytes) -> bool:
    if not account:
        return False

    def put():
        import keyring

        keyring.set_password(KEYRING_SERVICE, account, base64.b64encode(key).decode("ascii"))
        return True

    return bool(_with_deadline(put))

from __future__ import annotations

import os
import threading

import keyring
import pytest
from keyring.backend import KeyringBackend

from ime_agent.errors import KeyUnavailable, WrongKey
from ime_agent.store import Store, keys
from ime_agent.store.cipher import Cipher, Damaged


def test_cipher_roundtrip_binds_associated_data():
    cipher = Cipher(keys.new_key())
    sealed = cipher.seal(b"{}", b"summaries/a/slots")
    assert cipher.open(sealed, b"summaries/a/slots") == b"{}"
    assert sealed != cipher.seal(b"{}", b"summaries/a/slots")  # fresh nonce
    with pytest.raises(Damaged):
        cipher.open(sealed, b"summaries/b/slots")
    with pytest.raises(Damaged):
        Cipher(keys.new_key()).open(sealed, b"summaries/a/slots")
    assert "key" not in repr(cipher).replace("<key hidden>", "")


def test_key_file_is_private(data_dir):
    Store.open(data_dir).close()
    key = data_dir / keys.KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    assert data_dir.stat().st_mode & 0o077 == 0


def test_corrupt_key_file_says_how_to_fix(data_dir):
    Store.open(data_dir).close()
    (data_dir / keys.KEY_FILE).write_text("not a key\n")
    with pytest.raises(KeyUnavailable, match="is corrupt .*restore it from your backup"):
        Store.open(data_dir)


def test_missing_key_file(data_dir):
    Store.open(data_dir).close()
    (data_dir / keys.KEY_FILE).unlink()
    with pytest.raises(KeyUnavailable, match="is missing; restore it"):
        Store.open(data_dir)


def test_key_file_readable_by_others_is_refused(data_dir):
    Store.open(data_dir).close()
    os.chmod(data_dir / keys.KEY_FILE, 0o644)
    with pytest.raises(KeyUnavailable, match="chmod 600"):
        Store.open(data_dir)


def test_other_profiles_key_file_is_wrong_key(tmp_path):
    Store.open(tmp_path / "a").close()
    Store.open(tmp_path / "b").close()
    os.replace(tmp_path / "b" / keys.KEY_FILE, tmp_path / "a" / keys.KEY_FILE)
    with pytest.raises(WrongKey, match="does not belong to this profile"):
        Store.open(tmp_path / "a")


def test_a_new_passphrase_profile_asks_once_and_opens_with_it(data_dir, monkeypatch):
    monkeypatch.delenv("IME_AGENT_KEY_SOURCE")
    asked = []

    def prompt(new: bool) -> str:
        asked.append(new)
        return "a long enough passphrase"

    Store.open(data_dir, key_source="passphrase", prompt=prompt).close()
    assert asked == [True]  # created: asked (and confirmed) once, not asked again to open
    Store.open(data_dir, prompt=prompt).close()
    assert asked == [True, False]


def test_export_over_an_existing_file_makes_it_private(data_dir, tmp_path):
    out = tmp_path / "mine.jsonl"
    out.write_text("old")
    out.chmod(0o644)
    with Store.open(data_dir) as s:
        s.export(out, "jsonl")
    assert out.stat().st_mode & 0o777 == 0o600


def test_passphrase_from_env(data_dir, monkeypatch):
    monkeypatch.delenv("IME_AGENT_KEY_SOURCE")
    monkeypatch.setenv("IME_AGENT_PASSPHRASE", "correct horse battery staple")
    with Store.open(data_dir) as s:
        assert s.setting("key_source") == "passphrase"
    assert not (data_dir / keys.KEY_FILE).exists()
    Store.open(data_dir).close()
    monkeypatch.setenv("IME_AGENT_PASSPHRASE", "wrong horse")
    with pytest.raises(WrongKey, match="wrong passphrase"):
        Store.open(data_dir)
    monkeypatch.delenv("IME_AGENT_PASSPHRASE")
    with pytest.raises(KeyUnavailable, match="set IME_AGENT_PASSPHRASE"):
        Store.open(data_dir)
    asked = []
    Store.open(data_dir, prompt=lambda new: asked.append(new) or "correct horse battery staple").close()
    assert asked == [False]


class MemoryKeyring(KeyringBackend):
    """An OS keyring stand-in: set as the backend, never a patch."""

    priority = 1

    def __init__(self, block: threading.Event | None = None):
        super().__init__()
        self.secrets: dict = {}
        self.block = block

    def get_password(self, service, username):
        if self.block is not None:
            self.block.wait()
        return self.secrets.get((service, username))

    def set_password(self, service, username, password):
        self.secrets[(service, username)] = password

    def delete_password(self, service, username):
        self.secrets.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_keyring_is_used_when_it_works(data_dir, monkeypatch, memory_keyring):
    monkeypatch.delenv("IME_AGENT_KEY_SOURCE")
    with Store.open(data_dir) as s:
        assert s.setting("key_source") == "keyring"
    assert not (data_dir / keys.KEY_FILE).exists()
    assert len(memory_keyring.secrets) == 1
    Store.open(data_dir).close()
    memory_keyring.secrets.clear()
    with pytest.raises(KeyUnavailable, match="not available from the OS keyring"):
        Store.open(data_dir)


def test_no_keyring_backend_falls_back_to_key_file(data_dir, monkeypatch):
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        monkeypatch.delenv("IME_AGENT_KEY_SOURCE")
        assert keys.keyring_usable() is False
        with Store.open(data_dir) as s:
            assert s.setting("key_source") == "file"
    finally:
        keyring.set_keyring(previous)


def test_hanging_keyring_does_not_hang(data_dir, monkeypatch):
    release = threading.Event()
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring(block=release))
    monkeypatch.setattr(keys, "KEYRING_TIMEOUT", 0.2)
    try:
        assert keys.keyring_get("anyone") is None
    finally:
        release.set()
        keyring.set_keyring(previous)


def test_unknown_key_source(data_dir, monkeypatch):
    monkeypatch.setenv("IME_AGENT_KEY_SOURCE", "usb-stick")
    with pytest.raises(KeyUnavailable, match="use keyring, file or passphrase"):
        Store.open(data_dir)


def test_database_files_are_private(data_dir):
    with Store.open(data_dir):
        for name in ("ime-agent.db", "ime-agent.db-wal", "ime-agent.db-shm"):
            assert (data_dir / name).stat().st_mode & 0o077 == 0, name


def test_a_key_file_that_is_a_link_a_device_or_a_pipe_is_refused_at_once(data_dir):
    """Never follows a link (to /dev/urandom: no 2 GB read), never blocks on a FIFO."""
    Store.open(data_dir).close()
    key = data_dir / keys.KEY_FILE
    key.unlink()
    key.symlink_to("/dev/urandom")
    with pytest.raises(KeyUnavailable, match="symbolic link"):
        Store.open(data_dir)
    key.unlink()
    os.mkfifo(key, 0o600)
    with pytest.raises(KeyUnavailable, match="not a regular file"):
        Store.open(data_dir)


def test_a_passphrase_that_is_not_utf8_is_one_clear_error(data_dir, monkeypatch):
    monkeypatch.delenv("IME_AGENT_KEY_SOURCE")
    monkeypatch.setenv("IME_AGENT_PASSPHRASE", os.fsdecode(b"caf\xe9-latin1"))
    from ime_agent.errors import ConfigError

    with pytest.raises(ConfigError, match="IME_AGENT_PASSPHRASE is not valid UTF-8"):
        Store.open(data_dir)
    assert not data_dir.exists()

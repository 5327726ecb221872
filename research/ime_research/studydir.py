"""The study directory: everything the researcher keeps about one study.

::

    DIR/study.json     the signed manifest (public: participants and the collector get it)
    DIR/keys.sealed    the study's private keys (Ed25519 signing, X25519 HPKE), sealed with
                       AES-256-GCM under a key derived from a passphrase with Argon2id
    DIR/settings.json  the researcher's own settings (the differential-privacy budget, ...)

Only ``cryptography`` does cryptography here. The sealed file names its KDF
parameters, so they can grow later; the study id is authenticated with the keys,
and the unlocked keys are checked against the manifest's public keys.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from ime_research import settings
from ime_research.errors import StudyDirError, WrongPassphrase
from ime_wire import files, keys, manifest
from ime_wire.canonical import b64, canonical, unb64
from ime_wire.errors import InvalidManifest

STUDY_FILE = "study.json"
KEYS_FILE = "keys.sealed"
SETTINGS_FILE = "settings.json"
SEALED_FORMAT = "ime-research/study-keys/v1"


@dataclass(frozen=True)
class StudyKeys:
    signing: Ed25519PrivateKey
    hpke: X25519PrivateKey


def _kdf(passphrase: str, params: dict) -> bytes:
    return Argon2id(salt=unb64(params["salt"], "salt"), length=32, iterations=params["iterations"],
                    lanes=params["lanes"], memory_cost=params["memory_cost"]).derive(passphrase.encode("utf-8"))


def seal_keys(study_keys: StudyKeys, study_id: str, passphrase: str) -> bytes:
    """The ``keys.sealed`` file for these keys."""
    params = {"name": "argon2id", "salt": b64(secrets.token_bytes(16)), "iterations": settings.ARGON2_ITERATIONS,
              "lanes": settings.ARGON2_LANES, "memory_cost": settings.ARGON2_MEMORY_KIB}
    nonce = secrets.token_bytes(12)
    plaintext = canonical({"signing": b64(keys.private_bytes(study_keys.signing)),
                           "hpke": b64(keys.private_bytes(study_keys.hpke))})
    sealed = AESGCM(_kdf(passphrase, params)).encrypt(nonce, plaintext, _aad(study_id))
    document = {"format": SEALED_FORMAT, "study_id": study_id, "kdf": params, "nonce": b64(nonce),
                "ciphertext": b64(sealed)}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def _aad(study_id: str) -> bytes:
    return SEALED_FORMAT.encode() + b"\0" + study_id.encode()


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read, from its creation on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


MAX_FILE_BYTES = 2**20  # the manifest, settings and sealed keys are a few KiB each


class StudyDir:
    """A study directory (see the module's docstring). Reading is lazy: ``StudyDir(path)`` always works."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def _read(self, name: str) -> bytes:
        path = self.path / name
        try:
            return files.read_small(path, MAX_FILE_BYTES)
        except FileNotFoundError:
            raise StudyDirError(f"{self.path} is not a study directory (no {name}); make one with "
                                "ime-research study create") from None
        except files.FileRefused as exc:
            raise StudyDirError(f"{path} {exc}; restore the study directory from its backup") from None
        except OSError as exc:
            raise StudyDirError(f"cannot read {path}: {exc.strerror}") from None

    @cached_property
    def manifest_bytes(self) -> bytes:
        return self._read(STUDY_FILE)

    @cached_property
    def manifest(self) -> manifest.Manifest:
        """The study's signed manifest, checked (signature, every field), whatever the date."""
        try:
            return manifest.load(self.manifest_bytes, source=str(self.path / STUDY_FILE))
        except InvalidManifest as exc:
            raise StudyDirError(str(exc)) from None

    @cached_property
    def settings(self) -> dict:
        try:
            value = json.loads(self._read(SETTINGS_FILE))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise StudyDirError(f"{self.path / SETTINGS_FILE} is not JSON; restore it from a backup") from None
        if not isinstance(value, dict):
            raise StudyDirError(f"{self.path / SETTINGS_FILE} must hold a JSON object")
        return value

    @property
    def dp_budget(self) -> float:
        """The total ε for the study's differentially private releases."""
        value = self.settings.get("dp_budget", settings.DEFAULT_DP_BUDGET)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise StudyDirError(f"'dp_budget' in {self.path / SETTINGS_FILE} must be a positive number")
        return float(value)

    @property
    def fingerprint(self) -> str:
        return self.manifest.fingerprint

    def unlock(self, passphrase: str) -> StudyKeys:
        """Open ``keys.sealed``; :class:`WrongPassphrase` if the passphrase does not open it."""
        study_id = self.manifest.study_id
        try:
            document = json.loads(self._read(KEYS_FILE))
            if document.get("format") != SEALED_FORMAT or document["kdf"].get("name") != "argon2id":
                raise StudyDirError(f"{self.path / KEYS_FILE} is not in a format this ime-research reads")
            nonce, sealed = unb64(document["nonce"], "nonce"), unb64(document["ciphertext"], "ciphertext")
            key = _kdf(passphrase, document["kdf"])
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            raise StudyDirError(f"{self.path / KEYS_FILE} is damaged; restore it from a backup") from None
        try:
            plain = json.loads(AESGCM(key).decrypt(nonce, sealed, _aad(study_id)))
        except InvalidTag:
            raise WrongPassphrase(f"the passphrase does not open the keys of {self.path} (or {KEYS_FILE} "
                                  "belongs to another study)") from None
        study_keys = StudyKeys(Ed25519PrivateKey.from_private_bytes(unb64(plain["signing"])),
                               X25519PrivateKey.from_private_bytes(unb64(plain["hpke"])))
        if keys.encode_public(study_keys.signing.public_key()) != self.manifest.signing_key \
                or keys.encode_public(study_keys.hpke.public_key()) != self.manifest.hpke_public_key:
            raise StudyDirError(f"the keys in {self.path / KEYS_FILE} are not the ones study.json names")
        return study_keys

    @classmethod
    def create(cls, path: str | os.PathLike, manifest_bytes: bytes, study_keys: StudyKeys, passphrase: str,
               study_settings: dict) -> "StudyDir":
        """Write a new study directory; refuses a directory that exists and is not empty."""
        path = Path(path)
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise StudyDirError(f"{path} already exists and is not empty; choose a new directory")
        study = manifest.load(manifest_bytes, source="the new manifest")
        path.mkdir(parents=True, exist_ok=True)
        _write_private(path / KEYS_FILE, seal_keys(study_keys, study.study_id, passphrase))
        (path / SETTINGS_FILE).write_text(json.dumps(study_settings, indent=2, sort_keys=True) + "\n")
        (path / STUDY_FILE).write_bytes(manifest_bytes)  # last: its presence means the directory is complete
        return cls(path)

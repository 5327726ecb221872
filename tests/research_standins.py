"""Stand-ins for ``ime_research.studydir`` and ``ime_research.client`` (built on another branch).

They follow the interface the research commands use — ``StudyDir(path)`` with
``.manifest``, ``.dp_budget`` and ``.unlock(passphrase)`` returning keys with
``.signing`` and ``.hpke``; ``CollectorClient(base_url, study_id, signing_key)`` with
``.items(after, limit)`` — and take their place in the tests that ask for the
:func:`standins` fixture, which so depend on nothing but this tool and the
wire contract. The study directory they read is written by
:func:`create_study`: the real signed ``study.json`` and, in place of the sealed
keys, a plain test file. End-to-end tests use the real modules and a real
collector instead.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ime_wire import keys, manifest as wire_manifest
from ime_research.errors import ResearchError

from researchkit import FeedStandIn, StudyKeys, make_manifest

KEYS_FILE = "standin-keys.json"
#: study id -> the feed a stand-in client answers from
FEEDS: dict[str, FeedStandIn] = {}


def create_study(path: Path, *, passphrase: str = "correct horse", dp_budget: float = 10.0, **manifest_options
                 ) -> StudyKeys:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    study_keys = StudyKeys(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
    (path / "study.json").write_bytes(make_manifest(study_keys.signing, study_keys.hpke, **manifest_options))
    (path / KEYS_FILE).write_text(json.dumps({
        "passphrase": passphrase, "dp_budget": dp_budget,
        "signing": keys.private_bytes(study_keys.signing).hex(), "hpke": keys.private_bytes(study_keys.hpke).hex()}))
    return study_keys


class StudyDir:
    def __init__(self, path: Path):
        self.path = Path(path)
        if not (self.path / "study.json").is_file():
            raise ResearchError(f"{path} is not a study directory (no study.json); make one with "
                                "ime-research study create")
        self.manifest = wire_manifest.load((self.path / "study.json").read_bytes())
        self._secret = json.loads((self.path / KEYS_FILE).read_text())
        self.dp_budget = self._secret["dp_budget"]

    def unlock(self, passphrase: str) -> StudyKeys:
        if passphrase != self._secret["passphrase"]:
            raise ResearchError("wrong passphrase for the study key")
        return StudyKeys(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self._secret["signing"])),
                         X25519PrivateKey.from_private_bytes(bytes.fromhex(self._secret["hpke"])))


class CollectorClient:
    def __init__(self, base_url, study_id, signing_key):
        self.feed = FEEDS[study_id]

    def items(self, after, limit):
        return self.feed.items(after, limit)

    def close(self):
        pass


def modules() -> dict[str, types.ModuleType]:
    studydir = types.ModuleType("ime_research.studydir")
    studydir.StudyDir = StudyDir
    client = types.ModuleType("ime_research.client")
    client.CollectorClient = CollectorClient
    return {"ime_research.studydir": studydir, "ime_research.client": client}


@pytest.fixture
def standins(monkeypatch):
    """While a test runs, ``ime_research.studydir`` and ``ime_research.client`` are the stand-ins."""
    for name, module in modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    FEEDS.clear()
    yield
    FEEDS.clear()

"""A study, devices and uploads for tests, made with the wire contract alone (no key files).

All content is invented. Summaries carry slot values that a database scan looks
for (``laptop``, ``Japan``, ``sleep``), so a scan finding none of them proves the
collector keeps only ciphertext::

    study = make_study("http://127.0.0.1:8470")
    device = Device.new()
    upload = study.upload(device, enrollment_id, summaries(3))
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ime_wire import API_PREFIX, joincode, keys, manifest, signing, vocabulary
from ime_wire.envelope import BatchContext, Upload, batch_plaintext, make_upload, open_batch
from ime_wire.summary import Summary
from ime_wire.timebucket import bucket_of, iso

#: Slot values the summaries below carry; none may ever be readable on the collector.
SECRET_VALUES = ("laptop", "Japan", "sleep")
#: Text of the kind a participant types; it never leaves the device, so it must be nowhere.
TYPED_TEXT = ("best 14 inch laptop for uni", "five days in Japan with the kids", "always tired when I wake")


def summaries(count: int, start: datetime | None = None) -> list[Summary]:
    """``count`` valid summaries cycling through a purchase, a trip and a health concern."""
    start = start or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    kinds = [("purchase", {"product": "laptop", "price_band": "mid"}, "browser"),
             ("travel", {"destination": "Japan", "trip_length": "short", "party": "family"}, "chat"),
             ("health", {"concern": "sleep", "who": "self"}, "office")]
    made = []
    for i in range(count):
        intent, slots, app = kinds[i % 3]
        made.append(Summary(secrets.token_hex(16), bucket_of(start + timedelta(minutes=15 * i)), app, "en",
                            intent, 0.9, slots, "intent-en-test"))
    return made


@dataclass(frozen=True)
class Device:
    key: Ed25519PrivateKey

    @classmethod
    def new(cls) -> "Device":
        return cls(Ed25519PrivateKey.generate())

    @property
    def public(self) -> str:
        return keys.encode_public(self.key.public_key())

    def sign(self, signer: str, method: str, target: str, body: bytes = b"", now: float | None = None) -> dict:
        return signing.sign_request(self.key, signer, method, target, body, time.time() if now is None else now)


@dataclass(frozen=True)
class Study:
    signing: Ed25519PrivateKey
    hpke: X25519PrivateKey
    manifest: manifest.Manifest
    manifest_bytes: bytes

    @property
    def study_id(self) -> str:
        return self.manifest.study_id

    @property
    def path(self) -> str:
        return f"{API_PREFIX}/studies/{self.study_id}"

    def sign(self, method: str, target: str, body: bytes = b"", now: float | None = None) -> dict:
        return signing.sign_request(self.signing, self.study_id, method, target, body,
                                    time.time() if now is None else now)

    def codes(self, count: int, expires: datetime | None = None) -> tuple[list[str], bytes]:
        """Fresh join codes and the body of the invite request registering them."""
        import json  # noqa: PLC0415
        expires = expires or datetime.now(UTC) + timedelta(days=7)
        codes = [joincode.new_code() for _ in range(count)]
        body = json.dumps({"codes": [{"hash": joincode.code_hash(self.study_id, c), "expires": iso(expires)}
                                     for c in codes]}).encode()
        return codes, body

    def upload(self, device: Device, enrollment_id: str, batch: list[Summary], batch_id: str | None = None) -> Upload:
        context = BatchContext(self.study_id, enrollment_id, batch_id or secrets.token_hex(16), self.manifest.key_id)
        return make_upload(batch_plaintext(batch), self.hpke.public_key(), context, device.key)

    def open(self, upload: Upload) -> list[Summary]:
        return open_batch(upload.ciphertext, self.hpke, upload.context)


def make_study(collector_url: str = "http://127.0.0.1:8470", *, starts: date | None = None, ends: date | None = None,
               retention_days: int = 30, signing_key: Ed25519PrivateKey | None = None, **fields) -> Study:
    signing_key = signing_key or Ed25519PrivateKey.generate()
    hpke = X25519PrivateKey.generate()
    today = datetime.now(UTC).date()
    starts = starts or today - timedelta(days=1)
    ends = ends or today + timedelta(days=90)
    study = manifest.Manifest(
        study_id=secrets.token_hex(16), title="Shopping and travel plans (test study)", organisation="Example Lab",
        contact="study@example.org", ethics_ref="EX-2026-001", information="An invented study for tests.",
        categories=vocabulary.CATEGORIES, slots=tuple(s for c in vocabulary.CATEGORIES for s in vocabulary.SLOTS_FOR[c]),
        collector_url=collector_url, hpke_public_key=keys.encode_public(hpke.public_key()),
        key_id=keys.key_id(hpke.public_key()), signing_key=keys.encode_public(signing_key.public_key()),
        review_hold_seconds=0, collector_retention_days=retention_days, starts=starts.isoformat(),
        ends=ends.isoformat(), issued_at=iso(datetime.now(UTC)))
    study = replace(study, **fields)
    return Study(signing_key, hpke, study, manifest.sign(study, signing_key))


def register_study(db_url: str, study: Study) -> None:
    """What ``ime-collector add-study`` does, without a process (the plain function behind it)."""
    from ime_collector.cli import add_study  # noqa: PLC0415
    from ime_collector.storage import open_storage  # noqa: PLC0415
    storage = open_storage(db_url)
    try:
        add_study(storage, study.manifest_bytes, "study.json", datetime.now(UTC).date().isoformat())
    finally:
        storage.close()


# --- the protocol over HTTP, by hand (what an agent and the research tool do) ----------------


def register(http, study: Study, count: int = 1, expires: datetime | None = None) -> list[str]:
    """Register ``count`` fresh join codes with the collector behind ``http`` (an httpx.Client)."""
    codes, body = study.codes(count, expires)
    target = f"{study.path}/invites"
    response = http.put(target, content=body, headers=study.sign("PUT", target, body))
    assert response.status_code == 200, response.text
    return codes


def enroll_request(http, study: Study, code: str, device: Device):
    import json  # noqa: PLC0415
    body = json.dumps({"code": code, "device_key": device.public}).encode()
    target = f"{study.path}/enrollments"
    return http.post(target, content=body, headers=device.sign("new", "POST", target, body))


def enroll(http, study: Study, device: Device) -> str:
    """A fresh code, used by ``device``: its enrollment id."""
    response = enroll_request(http, study, register(http, study)[0], device)
    assert response.status_code == 201, response.text
    return response.json()["enrollment_id"]


def post_upload(http, study: Study, upload: Upload):
    return http.post(f"{study.path}/batches", content=upload.to_json(),
                     headers={"Content-Type": "application/json"})


def withdraw_request(http, study: Study, device: Device, enrollment_id: str):
    target = f"{study.path}/enrollments/{enrollment_id}"
    return http.delete(target, headers=device.sign(enrollment_id, "DELETE", target))


def feed(http, study: Study, limit: int = 100, after: str | None = None) -> tuple[list[dict], str]:
    """Every item visible from ``after`` on, following the cursor page by page; (items, last cursor)."""
    items = []
    while True:
        target = f"{study.path}/items?limit={limit}" + (f"&after={after}" if after else "")
        response = http.get(target, headers=study.sign("GET", target))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        after = page["next"]
        if not page["more"]:
            return items, after


def batch_ids(items: list[dict]) -> list[str]:
    return [i["upload"]["batch_id"] for i in items if i["kind"] == "batch"]

"""What the collector's API does, as plain synchronous functions over a :class:`Storage`.

The web layer (:mod:`ime_collector.app`) reads bodies, enforces the size limit and
turns results into responses; everything else — parsing, signatures, the rate
limit, storage — happens here, on a worker thread (uploads, the hot path, on the
event loop with an async insert). A refusal is a :class:`Problem`
whose ``detail`` says what to fix and never quotes the request.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from datetime import UTC, datetime

import anyio.to_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ime_collector import __version__
from ime_collector.ratelimit import TokenBuckets
from ime_collector.settings import Settings
from ime_collector.storage import Enrolled, Storage, Stored
from ime_wire import joincode, keys, manifest, signing, timebucket
from ime_wire.envelope import Upload
from ime_wire.errors import BadSignature, EnvelopeError, InvalidManifest

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_CODES_PER_REQUEST = 10_000
DEFAULT_PAGE = 100
MAX_PAGE = 1000
_CACHE_LIMIT = 100_000


class Problem(Exception):
    """An answer other than success: an RFC 9457 problem document."""

    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers or {}

    def document(self) -> dict:
        return {"type": "about:blank", "title": self.title, "status": self.status, "detail": self.detail}


def _bad_request(detail: str) -> Problem:
    return Problem(400, "Bad Request", detail)


def _forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail)


def parse_json_object(body: bytes, what: str) -> dict:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _bad_request(f"the body is not JSON; send {what} as a JSON object") from None
    if not isinstance(value, dict):
        raise _bad_request(f"the body must be a JSON object ({what})")
    return value


class Collector:
    def __init__(self, storage: Storage, settings: Settings, clock=time.time):
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.rate = TokenBuckets(settings.rate_burst, settings.rate_per_minute)
        # A registered manifest never changes, nor an enrollment's study and key: safe to keep.
        self._manifests: dict[str, manifest.Manifest] = {}
        self._device_keys: dict[str, tuple[str, Ed25519PublicKey]] = {}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _today(self) -> str:
        return self._now().date().isoformat()

    # -- lookups -------------------------------------------------------------------------

    def study(self, study_id: str) -> manifest.Manifest:
        cached = self._manifests.get(study_id)
        if cached is not None:
            return cached
        data = self.storage.study_manifest(study_id) if _HEX32.match(study_id) else None
        if data is None:
            raise Problem(404, "Not Found", "this collector has no such study; check the study id "
                          "(the operator registers studies with ime-collector add-study)")
        parsed = manifest.load(data, source="the registered manifest")
        self._manifests[study_id] = parsed
        return parsed

    def _device_key(self, study_id: str, enrollment_id: str) -> Ed25519PublicKey:
        cached = self._device_keys.get(enrollment_id)
        if cached is None:
            found = self.storage.enrollment(enrollment_id) if _HEX32.match(enrollment_id) else None
            if found is None:
                raise _forbidden("this enrollment is not known here; join the study again")
            if len(self._device_keys) >= _CACHE_LIMIT:
                self._device_keys.clear()
            cached = self._device_keys[enrollment_id] = (found.study_id, keys.ed25519_public(found.device_key))
        if cached[0] != study_id:
            raise _forbidden("this enrollment belongs to another study")
        return cached[1]

    def _verify(self, key: Ed25519PublicKey, headers, method: str, target: str, body: bytes) -> None:
        try:
            signing.verify_request(key, headers, method, target, body, self.clock())
        except BadSignature as exc:
            raise _forbidden(str(exc)) from None

    def _verify_study(self, study_id: str, headers, method: str, target: str, body: bytes) -> manifest.Manifest:
        study = self.study(study_id)
        if headers.get(signing.KEY_HEADER) != study_id:
            raise _forbidden(f"sign this request with the study key and send {signing.KEY_HEADER}: <study id>")
        self._verify(study.signing_public_key, headers, method, target, body)
        return study

    # -- endpoints -----------------------------------------------------------------------

    def health(self) -> dict:
        self.storage.ping()
        return {"status": "ok", "version": __version__, "storage": self.storage.kind}

    def manifest_bytes(self, study_id: str) -> bytes:
        self.study(study_id)
        return self.storage.study_manifest(study_id)

    def register_invites(self, study_id: str, headers, target: str, body: bytes) -> dict:
        self._verify_study(study_id, headers, "PUT", target, body)
        codes = parse_json_object(body, '{"codes": [{"hash": ..., "expires": ...}]}').get("codes")
        if not isinstance(codes, list) or not 1 <= len(codes) <= MAX_CODES_PER_REQUEST:
            raise _bad_request(f"'codes' must be a list of 1 to {MAX_CODES_PER_REQUEST} invites")
        rows = []
        for code in codes:
            if not isinstance(code, dict) or set(code) != {"hash", "expires"} \
                    or not isinstance(code["hash"], str) or not _HEX64.match(code["hash"]):
                raise _bad_request('each invite is {"hash": 64 lower-case hex digits, "expires": time}')
            try:
                expires = timebucket.iso(timebucket.parse_iso(code["expires"]))
            except (TypeError, ValueError, AttributeError):
                raise _bad_request("an invite's 'expires' must be a time like 2030-01-31T12:00:00Z") from None
            rows.append((code["hash"], expires))
        registered, already = self.storage.add_invites(study_id, rows)
        return {"registered": registered, "already": already}

    def enroll(self, study_id: str, headers, target: str, body: bytes) -> tuple[int, dict]:
        study = self.study(study_id)
        request = parse_json_object(body, '{"code": ..., "device_key": ...}')
        if set(request) != {"code", "device_key"}:
            raise _bad_request('an enrollment is {"code": the join code, "device_key": base64 Ed25519 key}')
        try:
            device_key = keys.ed25519_public(request["device_key"], "device_key")
            code = joincode.normalise(request["code"])
        except ValueError as exc:
            raise _bad_request(str(exc)) from None
        if headers.get(signing.KEY_HEADER) != "new":
            raise _forbidden(f"sign an enrollment with the new device key and send {signing.KEY_HEADER}: new")
        self._verify(device_key, headers, "POST", target, body)
        try:
            study.check_dates(self._now())
        except InvalidManifest as exc:
            raise _forbidden(str(exc)) from None
        outcome, enrollment_id = self.storage.enroll(
            study_id, joincode.code_hash(study_id, code), keys.encode_public(device_key),
            timebucket.iso(self._now()), self._today())
        if outcome is Enrolled.CREATED:
            return 201, {"enrollment_id": enrollment_id}
        if outcome is Enrolled.AGAIN:
            return 200, {"enrollment_id": enrollment_id}
        if outcome is Enrolled.CODE_USED:
            raise Problem(409, "Conflict", "this join code has already been used; ask the study for a new one")
        if outcome is Enrolled.WITHDRAWN:
            raise _forbidden("this join code's enrollment has left the study; ask the study for a new code")
        raise _forbidden("this join code is not valid for this study, or it has expired; check it or ask "
                         "the study for a new one")

    async def upload(self, study_id: str, body: bytes) -> tuple[int, dict]:
        """The hot path, on the event loop: checks are CPU only (lookups are cached after the first
        upload of a study and of an enrollment), the insert is the storage's async one."""
        try:
            upload = Upload.from_json(body)
        except EnvelopeError as exc:
            raise _bad_request(f"malformed upload: {exc}") from None
        context = upload.context
        if context.study_id != study_id:
            raise _forbidden("this upload belongs to another study than the one in the URL")
        study = self._manifests.get(study_id) or await anyio.to_thread.run_sync(self.study, study_id)
        if context.key_id != study.key_id or context.schema_version != study.schema_version:
            raise _forbidden("this upload is sealed to another key or schema than the study's; "
                             "fetch the study's manifest again")
        cached = self._device_keys.get(context.enrollment_id)
        device_key = cached[1] if cached and cached[0] == study_id else \
            await anyio.to_thread.run_sync(self._device_key, study_id, context.enrollment_id)
        try:
            upload.verify(device_key)
        except BadSignature as exc:
            raise _forbidden(str(exc)) from None
        wait = self.rate.take(context.enrollment_id)
        if wait:
            raise Problem(429, "Too Many Requests", "too many uploads from this enrollment; retry later",
                          {"Retry-After": str(max(1, math.ceil(wait)))})
        # Kept as sent: a retry sends the same bytes (the agent freezes them), anything else is another upload.
        outcome = await self.storage.add_batch_async(study_id, context.enrollment_id, context.batch_id, body,
                                                     hashlib.sha256(body).hexdigest(), self._today())
        if outcome is Stored.STORED:
            self._crash_if_armed()
            return 201, {"batch_id": context.batch_id, "stored": True}
        if outcome is Stored.DUPLICATE:
            return 200, {"batch_id": context.batch_id, "duplicate": True}
        if outcome is Stored.CONFLICT:
            raise Problem(409, "Conflict", "another upload with this batch id is already stored; "
                          "a batch id names one sealed batch only")
        raise _forbidden("this enrollment has left the study; its uploads are no longer accepted")

    def withdraw(self, study_id: str, enrollment_id: str, headers, target: str, body: bytes) -> dict:
        self.study(study_id)
        if headers.get(signing.KEY_HEADER) != enrollment_id:
            raise _forbidden(f"sign a withdrawal with the device key and send {signing.KEY_HEADER}: <enrollment id>")
        self._verify(self._device_key(study_id, enrollment_id), headers, "DELETE", target, body)
        deleted = self.storage.withdraw(study_id, enrollment_id, self._today())
        if deleted is None:
            raise _forbidden("this enrollment is not known here")
        return {"deleted_batches": deleted}

    def items(self, study_id: str, headers, target: str, after: str | None, limit: str | None) -> dict:
        self._verify_study(study_id, headers, "GET", target, b"")
        try:
            count = DEFAULT_PAGE if limit is None else int(limit)
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_PAGE:
            raise _bad_request(f"'limit' must be a whole number from 1 to {MAX_PAGE}")
        try:
            page = self.storage.items(study_id, after, count)
        except ValueError as exc:
            raise _bad_request(str(exc)) from None
        items = []
        for item in page.items:
            if item.kind == "batch":
                items.append({"kind": "batch", "upload": json.loads(item.body), "device_key": item.device_key,
                              "received": item.day})
            else:
                items.append({"kind": "tombstone", "enrollment_id": item.enrollment_id, "withdrawn": item.day})
        return {"items": items, "next": page.next, "more": page.more}

    def purge(self) -> int:
        return self.storage.purge(self._today())

    def _crash_if_armed(self) -> None:
        """TEST ONLY (see settings.TEST_CRASH_FILE_ENV): die between commit and answer, once."""
        path = self.settings.test_crash_file
        if path and os.path.exists(path):
            os.remove(path)
            os._exit(70)

"""The collector's HTTP API as the participant's agent uses it (docs/protocol.md).

httpx, with TLS certificates always verified (its default, never switched off) and
plain ``http://`` refused except to this machine (``ime_wire.urls``). The
transport can be swapped (``httpx.MockTransport``) for unit tests; the end-to-end
tests run against real collector processes.

Every answer is one of: done, *retry later* (:class:`Transient`: no answer, a
timeout, 429, 5xx — the same bytes are sent again later), or *refused*
(:class:`Refused`: the collector will never accept this, with its reason).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ime_agent import __version__
from ime_agent.errors import SyncError
from ime_wire import API_PREFIX, keys, signing
from ime_wire.canonical import canonical
from ime_wire.urls import check_collector_url

TIMEOUT_SECONDS = 20.0
MAX_MANIFEST_BYTES = 256 * 1024
_RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


class Transient(SyncError):
    """No answer, or "try again later": nothing was lost, the same bytes go again later."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Refused(SyncError):
    """The collector refused for good (the enrollment was withdrawn, a bad request, ...)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class UploadResult:
    batch_id: str
    duplicate: bool  # the collector already had these exact bytes (a retry after a lost answer)


class CollectorClient:
    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = TIMEOUT_SECONDS, clock=time.time):
        try:
            self.base_url = check_collector_url(base_url)
        except ValueError as exc:
            raise SyncError(str(exc)) from None
        self._clock = clock
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                                  headers={"User-Agent": f"ime-agent/{__version__}"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "CollectorClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the calls -----------------------------------------------------------------------

    def enroll(self, study_id: str, code: str, device_key: Ed25519PrivateKey) -> str:
        """Enroll this device with a join code; returns the enrollment id."""
        body = canonical({"code": code, "device_key": keys.encode_public(device_key.public_key())})
        target = f"{API_PREFIX}/studies/{quote(study_id)}/enrollments"
        response = self._send("POST", target, body, device_key, "new")
        enrollment_id = self._json(response).get("enrollment_id")
        if not isinstance(enrollment_id, str) or len(enrollment_id) != 32:
            raise SyncError(f"the collector at {self.base_url} sent no enrollment id; try again later")
        return enrollment_id

    def upload(self, study_id: str, upload: bytes) -> UploadResult:
        response = self._send("POST", f"{API_PREFIX}/studies/{quote(study_id)}/batches", upload)
        answer = self._json(response)
        return UploadResult(str(answer.get("batch_id", "")), bool(answer.get("duplicate")))

    def withdraw(self, study_id: str, enrollment_id: str, device_key: Ed25519PrivateKey) -> int:
        target = f"{API_PREFIX}/studies/{quote(study_id)}/enrollments/{quote(enrollment_id)}"
        answer = self._json(self._send("DELETE", target, b"", device_key, enrollment_id))
        deleted = answer.get("deleted_batches", 0)
        return deleted if isinstance(deleted, int) else 0

    # -- plumbing ------------------------------------------------------------------------

    def _send(self, method: str, target: str, body: bytes, key: Ed25519PrivateKey | None = None,
              signer: str = "") -> httpx.Response:
        headers = {"Content-Type": "application/json"} if body else {}
        if key is not None:
            headers.update(signing.sign_request(key, signer, method, target, body, self._clock()))
        try:
            response = self._http.request(method, self.base_url + target, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise Transient(f"cannot reach the collector at {self.base_url} ({type(exc).__name__}); "
                            "nothing was lost: it is sent again later") from None
        if response.is_success:
            return response
        detail = _detail(response)
        if response.status_code in _RETRYABLE:
            raise Transient(f"the collector at {self.base_url} asked to try later ({response.status_code}"
                            f"{': ' + detail if detail else ''}); nothing was lost", _retry_after(response))
        raise Refused(f"the collector at {self.base_url} refused ({response.status_code}"
                      f"{': ' + detail if detail else ''})", response.status_code)

    def _json(self, response: httpx.Response) -> dict:
        try:
            value = response.json()
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise Transient(f"the collector at {self.base_url} answered something that is not JSON; "
                            "nothing was lost: it is sent again later")
        return value


def fetch_manifest(url: str, *, transport: httpx.BaseTransport | None = None) -> bytes:
    """A study's signed manifest from an https URL (at most 256 KiB; checked by the caller)."""
    try:
        check_collector_url(url)  # the same rule: https, or http to this machine only
    except ValueError as exc:
        raise SyncError(str(exc).replace("collector URL", "manifest URL")) from None
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport, follow_redirects=False) as http:
            with http.stream("GET", url) as response:
                if not response.is_success:
                    raise SyncError(f"cannot fetch the manifest from {url} ({response.status_code}); check the URL")
                data = b""
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_MANIFEST_BYTES:
                        raise SyncError(f"{url} is over 256 KiB: it is not a study manifest")
                return data
    except httpx.TransportError as exc:
        raise SyncError(f"cannot fetch the manifest from {url} ({type(exc).__name__}); check the URL and "
                        "your connection") from None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    return str(detail).splitlines()[0][:300] if detail else ""


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None

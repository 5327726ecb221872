"""Requests to a study's collector, signed with the study key (``ime_wire.signing``).

TLS certificates are always verified (httpx's default, never switched off);
plain ``http://`` is refused except to this machine (``ime_wire.urls``). An
answer other than success becomes :class:`CollectorError` carrying the problem
document's ``detail``; no answer at all becomes :class:`CollectorUnreachable`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ime_research import __version__, settings
from ime_research.errors import CollectorError, CollectorUnreachable
from ime_wire import API_PREFIX, signing
from ime_wire.urls import check_collector_url


@dataclass(frozen=True)
class FeedPage:
    """One page of the study's feed (see docs/protocol.md: batches and tombstones, oldest first)."""

    items: list[dict]
    next: str  # the cursor to continue from (store it after processing the page)
    more: bool


class CollectorClient:
    """The collector of one study, with the study's signing key for the calls that need it."""

    def __init__(self, base_url: str, study_id: str, signing_key: Ed25519PrivateKey | None = None, *,
                 transport: httpx.BaseTransport | None = None, timeout: float = settings.HTTP_TIMEOUT_S,
                 clock=time.time):
        try:
            self.base_url = check_collector_url(base_url)
        except ValueError as exc:
            raise CollectorError(str(exc)) from None
        self.study_id = study_id
        self.signing_key = signing_key
        self.clock = clock
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                                  headers={"User-Agent": f"ime-research/{__version__}"})

    def __enter__(self) -> "CollectorClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ----------------------------------------------------------------------

    def _send(self, method: str, target: str, body: bytes = b"", signed: bool = True) -> httpx.Response:
        headers = {"Content-Type": "application/json"} if body else {}
        if signed:
            if self.signing_key is None:
                raise CollectorError("this request needs the study's unlocked signing key")
            headers.update(signing.sign_request(self.signing_key, self.study_id, method, target, body, self.clock()))
        try:
            response = self._http.request(method, self.base_url + target, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise CollectorUnreachable(f"cannot reach the collector at {self.base_url}: "
                                       f"{str(exc) or type(exc).__name__}") from None
        if response.is_success:
            return response
        raise CollectorError(f"the collector at {self.base_url} refused ({response.status_code}): "
                             f"{_detail(response)}", response.status_code)

    def _json(self, response: httpx.Response) -> dict:
        try:
            value = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            value = None
        if not isinstance(value, dict):
            raise CollectorError(f"the collector at {self.base_url} answered something that is not its API "
                                 "(is the URL right?)")
        return value

    @property
    def _study_path(self) -> str:
        return f"{API_PREFIX}/studies/{self.study_id}"

    # -- calls -------------------------------------------------------------------------

    def health(self) -> dict:
        return self._json(self._send("GET", "/healthz", signed=False))

    def manifest(self) -> bytes:
        """The study's manifest as the collector serves it, byte for byte."""
        return self._send("GET", f"{self._study_path}/manifest", signed=False).content

    def register_invites(self, invites: list[dict]) -> dict:
        """Register join-code hashes, ``[{"hash": hex, "expires": time}]``, in one signed request."""
        body = json.dumps({"codes": invites}, separators=(",", ":")).encode()
        return self._json(self._send("PUT", f"{self._study_path}/invites", body))

    def items_page(self, after: str | None = None, limit: int = 100) -> FeedPage:
        query = f"limit={int(limit)}" + (f"&after={quote(after, safe='')}" if after else "")
        answer = self._json(self._send("GET", f"{self._study_path}/items?{query}"))
        items, next_cursor, more = answer.get("items"), answer.get("next"), answer.get("more")
        if not isinstance(items, list) or not isinstance(next_cursor, str) or not isinstance(more, bool):
            raise CollectorError(f"the collector at {self.base_url} sent a feed page this tool cannot read")
        return FeedPage(items, next_cursor, more)

    def items(self, after: str | None, limit: int) -> dict:
        """One feed page as the protocol's dict (what :func:`ime_research.pull.pull` reads)."""
        page = self.items_page(after, limit)
        return {"items": page.items, "next": page.next, "more": page.more}

    def iter_pages(self, after: str | None = None, limit: int = 100) -> Iterator[FeedPage]:
        """Pages from ``after`` on until nothing more is visible now; resume later from the last ``next``."""
        while True:
            page = self.items_page(after, limit)
            yield page
            if not page.more or page.next == after:
                return
            after = page.next


def _detail(response: httpx.Response) -> str:
    try:
        document = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        document = None
    if isinstance(document, dict) and isinstance(document.get("detail"), str):
        return document["detail"][:500]
    return response.reason_phrase or "no explanation given"

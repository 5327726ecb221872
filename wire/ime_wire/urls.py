"""Where summaries may be sent: HTTPS, or plain HTTP to this machine only (tests, a local collector)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_collector_url(url: object) -> str:
    """The URL without a trailing slash; ValueError saying why it cannot be used."""
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise ValueError("the collector URL must be an https:// URL")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"the collector URL {url!r} must start with https:// and name a host")
    if parts.username or parts.password:
        raise ValueError("the collector URL must not carry a user name or password")
    if parts.query or parts.fragment:
        raise ValueError("the collector URL must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"plain http:// is refused for {parts.hostname}: use https:// "
                         "(http is allowed only to this machine: 127.0.0.1, ::1, localhost)")
    return url.rstrip("/")

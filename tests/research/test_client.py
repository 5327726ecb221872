"""CollectorClient: signed requests, the feed page by page, errors in one line, TLS always verified."""

from __future__ import annotations

import json
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from ime_research.client import CollectorClient
from ime_research.errors import CollectorError, CollectorUnreachable
from ime_wire import signing

STUDY = "0123456789abcdef0123456789abcdef"


def feed_server(key: Ed25519PrivateKey, pages: int = 3):
    """A handler serving ``pages`` pages of a feed, checking every request's study signature."""
    seen = []

    def handle(request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode()
        signing.verify_request(key.public_key(), request.headers, request.method, target, request.content,
                               datetime.now(UTC).timestamp())
        assert request.headers[signing.KEY_HEADER] == STUDY
        after = request.url.params.get("after")
        seen.append(after)
        index = 0 if after is None else int(after.split(".")[1])
        return httpx.Response(200, json={"items": [{"kind": "batch", "n": index}], "next": f"0.{index + 1}",
                                         "more": index + 1 < pages})

    return handle, seen


def test_the_feed_is_fetched_page_by_page_with_signed_requests():
    key = Ed25519PrivateKey.generate()
    handler, seen = feed_server(key)
    with CollectorClient("https://collector.example.org", STUDY, key, transport=httpx.MockTransport(handler)) as client:
        pages = list(client.iter_pages(limit=1))
    assert [p.items[0]["n"] for p in pages] == [0, 1, 2] and pages[-1].more is False and pages[-1].next == "0.3"
    assert seen == [None, "0.1", "0.2"]


def test_a_refusal_carries_the_problem_detail():
    def handler(request):
        return httpx.Response(403, json={"type": "about:blank", "title": "Forbidden", "status": 403,
                                         "detail": "the request's signature does not verify"},
                              headers={"content-type": "application/problem+json"})

    client = CollectorClient("https://collector.example.org", STUDY, Ed25519PrivateKey.generate(),
                             transport=httpx.MockTransport(handler))
    with pytest.raises(CollectorError, match="refused \\(403\\): the request's signature does not verify") as caught:
        client.items_page()
    assert caught.value.status == 403


def test_an_answer_that_is_not_the_api_is_named():
    client = CollectorClient("https://collector.example.org", STUDY, Ed25519PrivateKey.generate(),
                             transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<html>hi</html>")))
    with pytest.raises(CollectorError, match="not its API"):
        client.items_page()


def test_plain_http_is_refused_except_to_this_machine():
    with pytest.raises(CollectorError, match="plain http:// is refused"):
        CollectorClient("http://collector.example.org", STUDY)
    CollectorClient("http://127.0.0.1:8470", STUDY).close()


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    import ipaddress  # noqa: PLC0415
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return tmp_path / "cert.pem", tmp_path / "key.pem"


def test_an_untrusted_certificate_is_never_accepted(tmp_path):
    class Healthy(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "ok"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    cert, key = _self_signed(tmp_path)
    server = HTTPServer(("127.0.0.1", 0), Healthy)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        with CollectorClient(url, STUDY) as client, pytest.raises(CollectorUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            client.health()
        # the same server is fine for a client that trusts its certificate: the refusal was about trust
        assert httpx.get(url + "/healthz", verify=ssl.create_default_context(cafile=str(cert))).json() == {"status": "ok"}
    finally:
        server.shutdown()
        server.server_close()

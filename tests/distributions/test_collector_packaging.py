"""The collector's deployment files: a systemd unit on 127.0.0.1, TLS proxies without access logs."""

from __future__ import annotations

import configparser
from pathlib import Path

PACKAGING = Path(__file__).resolve().parents[2] / "packaging" / "collector"


def test_the_systemd_unit_serves_on_loopback_as_its_own_user():
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    unit.read(PACKAGING / "ime-collector.service")
    service = unit["Service"]
    assert service["ExecStart"].startswith("/opt/ime-collector/bin/ime-collector serve --host 127.0.0.1")
    assert service["User"] == "ime-collector" and service["StateDirectory"] == "ime-collector"
    assert service["Environment"] == "IME_COLLECTOR_DB=sqlite:////var/lib/ime-collector/collector.db"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_proxies_terminate_tls_and_log_no_requests():
    nginx = (PACKAGING / "nginx.conf").read_text()
    assert "listen 443 ssl" in nginx and "proxy_pass http://127.0.0.1:8470" in nginx
    assert nginx.count("access_log off") == 2 and "X-Forwarded-For $" not in nginx
    caddy = (PACKAGING / "Caddyfile").read_text()
    assert "reverse_proxy 127.0.0.1:8470" in caddy and "header_up -X-Forwarded-For" in caddy
    assert "\tlog" not in caddy

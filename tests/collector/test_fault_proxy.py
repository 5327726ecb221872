"""The fault-injecting proxy (tests/faults.py) does what its docstring promises, against a real collector."""

from __future__ import annotations

import httpx
import pytest

from faults import FaultProxy


@pytest.fixture
def proxy(served):
    with FaultProxy(served[1].url) as running:
        yield running


def test_requests_pass_through_when_no_fault_is_queued(proxy):
    answer = httpx.get(proxy.url + "/healthz", timeout=5)
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert proxy.log[-1].fault is None and proxy.log[-1].upstream_status == 200 and proxy.forwarded == 1


def test_500_and_429_are_answered_by_the_proxy_in_order(proxy):
    proxy.fail("500", times=2)
    proxy.fail("429", retry_after=7)
    statuses = [httpx.get(proxy.url + "/healthz", timeout=5) for _ in range(4)]
    assert [a.status_code for a in statuses] == [500, 500, 429, 200]
    assert statuses[2].headers["retry-after"] == "7"
    assert statuses[0].headers["content-type"] == "application/problem+json"
    assert proxy.forwarded == 1 and proxy.pending() == 0


def test_hang_makes_the_client_time_out(proxy):
    proxy.fail("hang")
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(proxy.url + "/healthz", timeout=0.5)
    proxy.release()
    assert httpx.get(proxy.url + "/healthz", timeout=5).status_code == 200


def test_reset_breaks_the_connection(proxy):
    proxy.fail("reset")
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.get(proxy.url + "/healthz", timeout=5)
    assert proxy.forwarded == 0


def test_drop_forwards_then_loses_the_answer(proxy):
    proxy.fail("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(proxy.url + "/healthz", timeout=5)
    assert proxy.log[-1].fault == "drop" and proxy.log[-1].upstream_status == 200


def test_the_proxy_only_forwards_to_this_machine():
    with pytest.raises(ValueError):
        FaultProxy("http://192.0.2.1:80")

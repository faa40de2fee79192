"""Member URLs cannot make the harvester reach inside: the outbound policy, over real loopback servers.

The tests' servers all listen on 127.0.0.1, which the suite allows (``tests/conftest.py``); here the
allowance is taken away or narrowed to show what a default installation refuses. Nothing leaves the
machine: refused addresses are refused before any connection is made.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.main import create_app
from harvesters.oai.client import OAIClient, make_http_client
from harvesters.oai.errors import RefusedAddress
from harvesters.outbound import OutboundPolicy
from harvesters.probe import check_member
from harvesters.runner import harvest_members
from schemas.member import Member
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import free_port, serve_in_thread
from tests.servers.faulty import FaultyProvider, vietnamese_records
from tests.servers.hostile import Redirector

from .support import add_member
from .test_faults import START

ONLY_127_0_0_1 = [ipaddress.ip_network("127.0.0.1/32")]
LOOPBACK_BOTH = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
EVERYTHING = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]


def _strict(settings: Settings, **update: object) -> Settings:
    """The settings of an installation that allows no private network at all."""
    return settings.model_copy(update={"harvest_allow_networks": [], **update})


@pytest.fixture
def provider_url() -> Iterator[str]:
    with serve_in_thread(FaultyProvider(records=vietnamese_records(5, START))) as url:
        yield url + "/oai"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "not public"),  # carrier-grade NAT
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4 dressed as IPv6
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str, kind: str) -> None:
    assert OutboundPolicy().refusal(ipaddress.ip_address(address)) == kind
    assert OutboundPolicy(EVERYTHING).refusal(ipaddress.ip_address(address)) is None


def test_public_addresses_pass() -> None:
    policy = OutboundPolicy()
    for address in ("8.8.8.8", "203.162.4.190", "2001:4860:4860::8888"):
        assert policy.refusal(ipaddress.ip_address(address)) is None


def test_allowed_networks_come_from_a_comma_separated_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENHOP_HARVEST_ALLOW_NETWORKS", "10.20.0.0/16, 127.0.0.1")
    policy = OutboundPolicy.from_settings(Settings())
    assert policy.refusal(ipaddress.ip_address("10.20.3.4")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.2")) == "loopback"
    assert policy.refusal(ipaddress.ip_address("10.21.0.1")) == "private"
    monkeypatch.setenv("LIENHOP_HARVEST_ALLOW_NETWORKS", "not-a-network")
    with pytest.raises(ValueError, match="not-a-network"):
        Settings()


@pytest.mark.asyncio
async def test_a_loopback_member_is_refused_unless_allowed(
    store: RecordStore, settings: Settings, provider_url: str
) -> None:
    await add_member(store, "LOCAL", provider_url)
    [refused] = await harvest_members(store, _strict(settings), ["LOCAL"])
    assert refused.ok is False and "RefusedAddress" in (refused.error or "")
    assert "127.0.0.1 is a loopback address" in (refused.error or "")
    [allowed] = await harvest_members(store, settings, ["LOCAL"])
    assert allowed.ok, allowed.error
    assert allowed.added == 5


@pytest.mark.asyncio
async def test_a_name_that_resolves_to_a_private_address_is_refused(settings: Settings) -> None:
    port = free_port()
    with serve_in_thread(FaultyProvider(records=vietnamese_records(2, START)), port=port):
        url = f"http://localhost:{port}/oai"
        async with make_http_client(_strict(settings)) as http:
            with pytest.raises(RefusedAddress, match=r"localhost resolves to .*loopback"):
                await OAIClient(url, _strict(settings), http).identify()
        # allowed: the connection goes to the checked address, the Host header stays the name
        allowed = _strict(settings, harvest_allow_networks=LOOPBACK_BOTH)
        async with make_http_client(allowed) as http:
            info = await OAIClient(url, allowed, http).identify()
        assert info.name == "Faulty"


@pytest.mark.asyncio
async def test_the_name_stays_in_the_host_header(settings: Settings) -> None:
    """Connected to the checked address, the request still names the member's host."""
    app = FaultyProvider(records=vietnamese_records(1, START))
    seen: list[str] = []

    async def recording(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(dict(scope["headers"])[b"host"].decode())
        await app(scope, receive, send)

    port = free_port()
    allowed = _strict(settings, harvest_allow_networks=LOOPBACK_BOTH)
    with serve_in_thread(recording, port=port):
        async with make_http_client(allowed) as http:
            await OAIClient(f"http://localhost:{port}/oai", allowed, http).identify()
    assert seen == [f"localhost:{port}"]


@pytest.mark.asyncio
async def test_a_redirect_to_a_file_url_fails_at_once(store: RecordStore, settings: Settings) -> None:
    app = Redirector("file:///etc/passwd")
    with serve_in_thread(app) as url:
        await add_member(store, "FILE", url + "/oai")
        started = time.monotonic()
        [report] = await harvest_members(store, settings.model_copy(update={"max_retries": 5}), ["FILE"])
    assert report.ok is False and "RefusedAddress" in (report.error or "")
    assert "only http(s)" in (report.error or "")
    assert len(app.requests) == 1, "a redirect that cannot heal is not retried"
    assert time.monotonic() - started < 5


@pytest.mark.asyncio
async def test_a_redirect_to_a_disallowed_address_fails_at_once(
    store: RecordStore, settings: Settings
) -> None:
    """127.0.0.2 is loopback too, but this installation allows 127.0.0.1 alone."""
    app = Redirector("http://127.0.0.2:9/internal")
    narrow = settings.model_copy(update={"harvest_allow_networks": ONLY_127_0_0_1, "max_retries": 5})
    with serve_in_thread(app) as url:
        await add_member(store, "AWAY", url + "/oai")
        [report] = await harvest_members(store, narrow, ["AWAY"])
    assert report.ok is False and "127.0.0.2 is a loopback address" in (report.error or "")
    assert len(app.requests) == 1


@pytest.mark.asyncio
async def test_redirects_are_followed_a_few_times_only(settings: Settings) -> None:
    app = Redirector(None)  # to itself, for ever
    with serve_in_thread(app) as url:
        async with make_http_client(settings) as http:
            with pytest.raises(RefusedAddress, match="redirects more than 5 times"):
                await OAIClient(url + "/oai", settings.model_copy(update={"max_retries": 3}), http).identify()
    assert len(app.requests) == 6  # the request and five redirects, no retry


@pytest.mark.asyncio
async def test_a_redirect_to_an_allowed_place_is_followed(settings: Settings, provider_url: str) -> None:
    with serve_in_thread(Redirector(provider_url)) as url:
        async with make_http_client(settings) as http:
            info = await OAIClient(url + "/oai", settings, http).identify()
    assert info.name == "Faulty"


@pytest.mark.asyncio
async def test_members_check_says_unreachable_whatever_the_port_does(settings: Settings) -> None:
    """A closed port and a port whose service never answers read alike: no port scanning."""
    quick = settings.model_copy(update={"max_retries": 0, "request_timeout": 0.5, "request_deadline": 1.0})
    closed = free_port()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (the kernel does), never answers
    try:
        details = []
        for port in (closed, silent.getsockname()[1]):
            member = Member(code="PROBE", name_vi="Thăm dò", oai_url=f"http://127.0.0.1:{port}/oai")
            report = await check_member(member, quick)
            [identify] = report.checks
            details.append(identify.detail.replace(str(port), "PORT"))
    finally:
        silent.close()
    assert details[0] == details[1]
    assert details[0].endswith("unreachable") and "refused" not in details[0].lower()


@pytest.mark.asyncio
async def test_members_check_refuses_a_loopback_url_by_default(settings: Settings, provider_url: str) -> None:
    member = Member(code="PROBE", name_vi="Thăm dò", oai_url=provider_url)
    report = await check_member(member, _strict(settings))
    [identify] = report.checks
    assert identify.status == "fail" and "loopback address" in identify.detail


@pytest.mark.asyncio
@pytest.mark.parametrize("allowed", [False, True])
async def test_registering_a_loopback_url_is_a_422_unless_allowed(settings: Settings, allowed: bool) -> None:
    app = create_app(_strict(settings, harvest_allow_networks=LOOPBACK_BOTH if allowed else []))
    url = f"http://127.0.0.1:{free_port()}/oai"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lienhop.test") as client:
            created = await client.post(
                "/admin/members", json={"code": "LOC", "name_vi": "L", "oai_url": url}
            )
            assert created.status_code == (201 if allowed else 422), created.text
            if not allowed:
                assert "loopback" in created.json()["detail"]
                await client.post("/admin/members", json={"code": "LOC", "name_vi": "L"})
            moved = await client.patch(
                "/admin/members/LOC", json={"oai_url": "http://169.254.169.254/latest"}
            )
            assert moved.status_code == 422 and "link-local" in moved.json()["detail"]
            name = await client.patch(
                "/admin/members/LOC", json={"oai_url": f"http://localhost:{free_port()}/"}
            )
            assert name.status_code == (200 if allowed else 422), name.text


def test_settings_for_harvesting_tests_allow_loopback(settings: Settings) -> None:
    """The suite's own servers are on loopback: the shared fixture allows it, explicitly."""
    assert OutboundPolicy.from_settings(settings).refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert (
        OutboundPolicy.from_settings(Settings(harvest_allow_networks=[])).refusal(
            ipaddress.ip_address("127.0.0.1")
        )
        == "loopback"
    )


@pytest.mark.asyncio
async def test_nothing_connects_before_the_check(settings: Settings) -> None:
    """A refused URL never opens a socket: the refusal comes before any connection attempt."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/oai"
        async with make_http_client(_strict(settings)) as http:
            with pytest.raises(RefusedAddress):
                await OAIClient(url, _strict(settings), http).identify()
        await asyncio.sleep(0.05)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()

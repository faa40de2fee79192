"""Setting up the demo consortium: find or start the demo provider, register the demo members."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn

from schemas.errors import HarvestError, NotFound
from schemas.settings import Network, Settings
from store.front import RecordStore

from .members import DEMO_MEMBERS
from .oai_provider import make_app


def oai_url(base_url: str, code: str) -> str:
    """The demo OAI-PMH endpoint of one member."""
    return f"{base_url.rstrip('/')}/demo/oai/{code}"


def allowed_networks(settings: Settings, base_url: str) -> list[Network]:
    """``harvest_allow_networks`` plus the demo provider's own loopback address, for the demo harvest.

    The harvester refuses loopback addresses (see ``harvesters.outbound``); the demo's provider is on
    loopback by design, so ``lienhop demo`` allows exactly that address for its own harvest. The
    server does not: demo members are registered with a manual schedule and never re-harvested by it.
    """
    host = httpx.URL(base_url).host
    own = ipaddress.ip_network(socket.gethostbyname(host) if host == "localhost" else host)
    return [*settings.harvest_allow_networks, own]


def provider_running(base_url: str) -> bool:
    """Whether a Lienhop demo provider answers at ``base_url`` (a running ``lienhop serve``)."""
    # generous: a server just started answers its first request slowly on a busy machine, and a wrong
    # "no provider" makes ``lienhop demo`` refuse to run
    try:
        response = httpx.get(oai_url(base_url, DEMO_MEMBERS[0].code), params={"verb": "Identify"}, timeout=15)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and b"<Identify>" in response.content


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


class _QuietServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the CLI keeps Ctrl-C for itself
        pass


@contextlib.contextmanager
def provider_thread(host: str, port: int) -> Iterator[str]:
    """Serve only the demo provider with uvicorn in a background thread; yields its base URL."""
    config = uvicorn.Config(make_app(), host=host, port=port, log_level="warning", lifespan="off")
    server = _QuietServer(config)
    thread = threading.Thread(target=server.run, name="lienhop-demo-provider", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise HarvestError(f"the demo provider could not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def register_members(store: RecordStore, base_url: str) -> tuple[list[str], list[str]]:
    """Add the demo members, or point existing ones at ``base_url``; returns (added, updated) codes."""
    added: list[str] = []
    updated: list[str] = []
    for demo in DEMO_MEMBERS:
        # manual: the server would refuse the provider's loopback address (see allowed_networks)
        wanted = demo.to_create(oai_url(base_url, demo.code))
        wanted = wanted.model_copy(update={"harvest_schedule": "manual"})
        try:
            current = await store.get_member(demo.code)
        except NotFound:
            await store.add_member(wanted)
            added.append(demo.code)
            continue
        if current.oai_url != wanted.oai_url or not current.active:
            await store.update_member(demo.code, oai_url=wanted.oai_url, active=True)
            updated.append(demo.code)
    return added, updated

"""Fixtures for the attack tests: the app with its lifespan run, reached from any client address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import date

import httpx
import pytest_asyncio
from fastapi import FastAPI

from app.main import create_app
from schemas.auth import KeyCreate, Scope
from schemas.member import MemberCreate
from schemas.settings import Settings
from store.front import RecordStore
from tests.app.conftest import client, demo_url, harvested  # noqa: F401  (the harvested demo's fixtures)

#: A documentation address (TEST-NET-3): a remote client, as the ASGI transport reports it.
REMOTE = "203.0.113.5"
LOOPBACK = "127.0.0.1"

Clients = Callable[..., httpx.AsyncClient]


@pytest_asyncio.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app on the test's data folder (lifespan run), with members LIBA and LIBB registered."""
    built = create_app(settings)
    async with built.router.lifespan_context(built):
        store: RecordStore = built.state.lienhop.store
        for code in ("LIBA", "LIBB"):
            await store.add_member(MemberCreate(code=code, name_vi=f"Thư viện {code}"))
        yield built


@pytest_asyncio.fixture
async def clients(app: FastAPI) -> AsyncIterator[Clients]:
    """``clients(address, **headers)``: an HTTP client of the app seen from that client address."""
    opened: list[httpx.AsyncClient] = []

    def make(address: str = LOOPBACK, **headers: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        made = httpx.AsyncClient(transport=transport, base_url="http://lienhop.test", headers=headers)
        opened.append(made)
        return made

    yield make
    for each in opened:
        await each.aclose()


async def make_key(
    app: FastAPI, scope: Scope, member: str | None = None, label: str = "test", expires: date | None = None
) -> tuple[int, str]:
    """A new key's id and the key."""
    store: RecordStore = app.state.lienhop.store
    made, key = await store.add_key(KeyCreate(scope=scope, member=member, label=label, expires=expires))
    return made.id, key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}

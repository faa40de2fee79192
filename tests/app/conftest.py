"""Fixtures for the API and CLI tests: a small demo consortium served over real HTTP and harvested."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from app.context import open_context
from app.demo import setup
from app.demo.oai_provider import make_app
from app.main import create_app
from schemas.settings import Settings
from tests.servers import serve_in_thread

#: The holders of the first shared demo book, plus both observers: enough for holdings and eligibility.
DEMO_CODES = ("NASATI", "VNUHCM", "HUE", "TVU", "VNUA", "NTTU", "VASS")
DEMO_COUNT = 40  # records per member: one OAI page each, so harvests stay fast
#: The ASGI transport's client address: loopback, where admin routes answer without a key (its
#: default, "testclient", is no address and counts as a remote client).
LOOPBACK_CLIENT = ("127.0.0.1", 50000)


def demo_provider(count: int = DEMO_COUNT, page_size: int = 100) -> FastAPI:
    """An app serving only the demo OAI-PMH provider."""
    return make_app(count=count, page_size=page_size)


@pytest.fixture
def demo_url() -> Iterator[str]:
    """Base URL of a demo provider on loopback (small repositories)."""
    with serve_in_thread(demo_provider()) as url:
        yield url


@dataclass
class Harvested:
    settings: Settings
    demo_url: str


@pytest_asyncio.fixture
async def harvested(settings: Settings, demo_url: str) -> Harvested:
    """A data folder holding the demo members of ``DEMO_CODES``, harvested over HTTP and indexed."""
    from app import operations

    ctx = await open_context(settings)
    try:
        await setup.register_members(ctx.store, demo_url)
        # Only some members: the others stay registered but inactive, so "harvest all" skips them.
        for member in await ctx.store.list_members():
            if member.code not in DEMO_CODES:
                await ctx.store.update_member(member.code, active=False)
        reports = await operations.harvest(ctx, list(DEMO_CODES), False, None)
        assert all(r.ok for r in reports), [r.error for r in reports if not r.ok]
    finally:
        await ctx.close()
    return Harvested(settings, demo_url)


@pytest_asyncio.fixture
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app (lifespan run) on the test's data folder."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=LOOPBACK_CLIENT)
        async with httpx.AsyncClient(transport=transport, base_url="http://lienhop.test") as client:
            client.app = app  # type: ignore[attr-defined]  # tests reach the app's state through it
            yield client


@pytest_asyncio.fixture
async def client(harvested: Harvested) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app over the harvested demo data."""
    app = create_app(harvested.settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=LOOPBACK_CLIENT)
        async with httpx.AsyncClient(transport=transport, base_url="http://lienhop.test") as http:
            http.app = app  # type: ignore[attr-defined]  # tests reach the app's state through it
            yield http

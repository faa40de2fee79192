"""Fixtures for the protocol tests: a demo consortium harvested over HTTP, and the whole Lienhop app
served by uvicorn on loopback, so OAI-PMH clients that are not ours talk to it over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import operations
from app.context import open_context
from app.demo import setup
from app.main import create_app
from schemas.settings import Settings
from tests.app.conftest import demo_provider
from tests.conftest import LOOPBACK
from tests.servers import serve_in_thread

#: oai_dc members and one harvested as MARCXML (VAST), so both marcxml paths are exercised
CODES = ("NASATI", "HUE", "VAST")
COUNT = 120  # records per member: more than one OAI page (100) of the catalogue's feed
PUBLIC_URL = "http://lienhop.example.vn"  # a host the requests never use: identifiers must carry it


def harvest_demo(home: Path, database_url: str | None = None) -> Settings:
    """A data folder holding the demo members ``CODES``, harvested from a demo provider on loopback
    (into ``database_url`` when given, else SQLite in the folder)."""
    settings = Settings(
        home=home,
        database_url=database_url,
        public_url=PUBLIC_URL,
        scheduler_seconds=0,
        request_timeout=10.0,
        harvest_allow_networks=LOOPBACK,  # the demo provider runs on loopback
    )

    async def run(url: str) -> None:
        ctx = await open_context(settings)
        try:
            await setup.register_members(ctx.store, url)
            for member in await ctx.store.list_members():
                if member.code not in CODES:
                    await ctx.store.update_member(member.code, active=False)
            reports = await operations.harvest(ctx, list(CODES), False, None)
            assert all(r.ok for r in reports), [r.error for r in reports if not r.ok]
        finally:
            await ctx.close()

    with serve_in_thread(demo_provider(count=COUNT)) as url:
        asyncio.run(run(url))
    return settings


@contextlib.contextmanager
def serve_lienhop(settings: Settings, port: int | None = None) -> Iterator[str]:
    """The whole Lienhop app (lifespan included) on 127.0.0.1; yields its base URL."""
    with serve_in_thread(create_app(settings), port=port) as url:
        yield url


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a harvested demo catalogue, shared by the tests of a module (they only read it)."""
    return harvest_demo(tmp_path_factory.mktemp("catalogue") / "var")


@pytest.fixture(scope="module")
def lienhop_url(catalogue: Settings) -> Iterator[str]:
    with serve_lienhop(catalogue) as url:
        yield url

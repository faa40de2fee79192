"""Fixtures for the usage tests: members in a fresh store, a loopback SUSHI server per release."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr

from app.main import create_app
from schemas.member import MemberCreate
from schemas.settings import Settings
from schemas.usage import CredentialsSet, UsageDatabaseCreate
from store.front import RecordStore
from tests.servers import serve_in_thread
from usage.registry import UsageRegistry

from .sushi_server import Behaviour, make_app

MEMBERS = ("NASATI", "VNU", "HUST", "CTU", "HUE", "VAST", "TVU", "DUT")


@dataclass
class Sushi:
    url: str
    behaviour: Behaviour


def _serve(release: str) -> Iterator[Sushi]:
    behaviour = Behaviour(release=release)
    with serve_in_thread(make_app(behaviour)) as url:
        yield Sushi(url, behaviour)


@pytest.fixture
def sushi() -> Iterator[Sushi]:
    """A COUNTER R5 SUSHI server on loopback."""
    yield from _serve("5")


@pytest.fixture
def sushi51() -> Iterator[Sushi]:
    """A COUNTER R5.1 SUSHI server on loopback."""
    yield from _serve("5.1")


@pytest_asyncio.fixture
async def members_store(database_url: str) -> AsyncIterator[RecordStore]:
    """A new store (SQLite, then PostgreSQL) with the members registered."""
    store = await RecordStore.open(database_url)
    try:
        for code in MEMBERS:
            await store.add_member(MemberCreate(code=code, name_vi=f"Thư viện {code}"))
        yield store
    finally:
        await store.close()


async def add_database(
    store: RecordStore, url: str, code: str = "SD", release: str = "5", reports: tuple[str, ...] = ("DR",),
    customers: dict[str, str] | None = None, api_key: str | None = None,
) -> UsageRegistry:  # fmt: skip
    """Register a database on the SUSHI server at ``url`` and give ``customers`` ({member: customer_id})."""
    registry = UsageRegistry(store.engine)
    await registry.add_database(
        UsageDatabaseCreate(
            code=code, name=f"Database {code}", sushi_url=url, release=release, reports=list(reports)
        )  # type: ignore[arg-type]
    )
    for member, customer in (customers or {}).items():
        given = CredentialsSet(
            customer_id=SecretStr(customer), requestor_id=SecretStr("req-lienhop"),
            api_key=SecretStr(api_key) if api_key else None,
        )  # fmt: skip
        await registry.set_credentials(code, member, given)
    return registry


TOKEN = "admin-token-for-tests"


@pytest_asyncio.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app (lifespan run) with the admin token set and the members registered."""
    app = create_app(settings.model_copy(update={"admin_token": TOKEN}))
    async with app.router.lifespan_context(app):
        for code in MEMBERS:
            await app.state.lienhop.store.add_member(MemberCreate(code=code, name_vi=f"Thư viện {code}"))
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://lienhop.test", headers=headers
        ) as client:
            yield client

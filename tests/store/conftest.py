"""Every store test runs twice: on SQLite (the default) and on PostgreSQL (``LIENHOP_DATABASE_URL``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from store.front import RecordStore


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[RecordStore]:
    """A migrated, empty record store on a fresh SQLite file or a fresh PostgreSQL database."""
    opened = await RecordStore.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()

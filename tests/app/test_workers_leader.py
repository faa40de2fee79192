"""The leader lock, on SQLite (a file lock) and on PostgreSQL (an advisory lock): one holder at a time,
free again when the holder lets go or its connection dies, and the server worker that holds it is the
one that indexes."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import text

from app.leader import FileLock, PostgresLock, leader_lock
from app.main import create_app
from schemas.settings import Settings

pytestmark = pytest.mark.asyncio


async def test_one_holder_at_a_time_on_either_store(database_url: str, settings: Settings) -> None:
    configured = settings.model_copy(update={"database_url": database_url})
    first, second = leader_lock(configured), leader_lock(configured)
    assert isinstance(first, PostgresLock if database_url.startswith("postgres") else FileLock)
    try:
        assert await first.acquire()
        assert await first.acquire()  # asking again while holding it is harmless
        assert not await second.acquire()
        assert await first.held()
        await first.release()
        assert await second.acquire()
        assert not await first.acquire()
    finally:
        await first.release()
        await second.release()


async def test_a_dead_connection_frees_the_postgres_lock(postgres_url: str) -> None:
    first, second = PostgresLock(postgres_url), PostgresLock(postgres_url)
    try:
        assert await first.acquire()
        assert not await second.acquire()
        # What the server sees when the leader's process dies: its session ends.
        assert first._conn is not None
        pid = await first._conn.scalar(text("SELECT pg_backend_pid()"))
        async with second._engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert not await first.held()
        assert await second.acquire()
    finally:
        await first.release()
        await second.release()


async def test_of_two_apps_on_one_store_only_the_leader_indexes_and_the_other_takes_over(
    settings: Settings,
) -> None:
    quick = settings.model_copy(update={"leader_retry_seconds": 0.1, "scheduler_seconds": 0})
    one, two = create_app(quick), create_app(quick)
    async with contextlib.AsyncExitStack() as second:
        async with contextlib.AsyncExitStack() as first:
            await first.enter_async_context(one.router.lifespan_context(one))
            await second.enter_async_context(two.router.lifespan_context(two))
            assert (one.state.leadership.is_leader, two.state.leadership.is_leader) == (True, False)
        # The leader stopped and let go of the lock: the other app takes over within its retry time.
        for _ in range(100):
            if two.state.leadership.is_leader:
                break
            await asyncio.sleep(0.1)
        assert two.state.leadership.is_leader

"""Which server worker leads: exactly one process per store schedules harvests and feeds the index.

``lienhop serve --workers N`` starts N processes answering on one port. Each could follow the store
and index what changed, but N indexers would fight over the embedded index's single writer and N
schedulers would start every due harvest N times. So the processes elect a leader with a lock that
lives with the store, and only the leader runs the duties (the index follower and the scheduler):

* PostgreSQL: a session advisory lock taken on a connection of its own, kept for the whole
  leadership. The server releases it when that connection closes, including when the process is
  killed, and a leader whose connection was lost stops leading at its next check.
* SQLite: an exclusive ``flock`` on ``<database file>.leader`` (the file also holds the leader's pid,
  for operators). The kernel releases it when the process dies, however it dies.

Every other worker tries again each ``leader_retry_seconds``, so the work of a killed leader waits at
most about that long. Answering requests never depends on leading.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from schemas.settings import Settings
from store.db import async_url

from .context import AppContext
from .scheduler import run as scheduler_loop

log = logging.getLogger(__name__)

# Key of the leader's advisory lock: the ASCII bytes of "lienldr" (the schema migrations use "lienhop").
PG_LEADER_LOCK = 0x6C69656E6C6472


class LeaderLock(Protocol):
    """A lock at most one process holds; never waits."""

    async def acquire(self) -> bool:
        """Take the lock if it is free (True when this process now holds it)."""

    async def held(self) -> bool:
        """Whether this process still holds the lock."""

    async def release(self) -> None:
        """Let another process take it."""


class OnlyProcess:
    """No lock to share (an in-memory SQLite store belongs to one process): always the leader."""

    async def acquire(self) -> bool:
        return True

    async def held(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class FileLock:
    """An exclusive ``flock`` on one file; its content is the holder's pid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    async def held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class PostgresLock:
    """A session advisory lock on a connection that is not part of the store's pool."""

    def __init__(self, url: str) -> None:
        self._engine = create_async_engine(async_url(url), poolclass=NullPool)
        self._conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self._conn is not None:
            return await self.held()
        conn = await self._engine.connect()
        try:
            # Autocommit: a leadership of days must not be one open transaction.
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": PG_LEADER_LOCK}))
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            await self._conn.scalar(text("SELECT 1"))
            return True
        except Exception:
            # The connection is gone, and the server released the lock with it: another worker may lead.
            log.warning("lost the connection holding the leader lock; no longer leading")
            await self._drop()
            return False

    async def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LEADER_LOCK})
        await self._drop()
        await self._engine.dispose()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()


def leader_lock(settings: Settings) -> LeaderLock:
    """The lock that elects the leader among the processes sharing ``settings``' store."""
    url = async_url(settings.db_url)
    if url.startswith("postgresql"):
        return PostgresLock(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1] if "///" in url else ""
        if path and path != ":memory:":
            database = Path(path)
            return FileLock(database.with_name(database.name + ".leader"))
    return OnlyProcess()


Duties = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class Leadership:
    """Tries to become the leader and, while leading, runs the duties; ``is_leader`` says which."""

    def __init__(self, lock: LeaderLock, duties: Duties, retry_seconds: float) -> None:
        self.lock = lock
        self.duties = duties
        self.retry_seconds = retry_seconds
        self.is_leader = False
        self._task: asyncio.Task[None] | None = None

    async def start(self, stop: asyncio.Event, on_elected: Callable[[], Awaitable[None]]) -> None:
        """Try once now (``on_elected`` runs before returning when this process leads), then keep
        trying in the background until ``stop`` is set."""
        if await self.lock.acquire():
            self.is_leader = True
            log.info("this worker (pid %d) leads: it schedules harvests and feeds the index", os.getpid())
            await on_elected()
        self._task = asyncio.create_task(self._run(stop, on_elected))

    async def wait(self) -> None:
        """Wait for the loop to end (after ``stop``) and let the lock go."""
        if self._task is not None:
            await self._task

    async def _run(self, stop: asyncio.Event, on_elected: Callable[[], Awaitable[None]]) -> None:
        try:
            while not stop.is_set():
                if not self.is_leader:
                    try:
                        self.is_leader = await self.lock.acquire()
                    except Exception:
                        log.exception("could not ask for the leader lock; trying again")
                    if self.is_leader:
                        log.info("this worker (pid %d) took over as leader", os.getpid())
                        await _logged(on_elected)
                if self.is_leader:
                    await self._lead(stop)
                else:
                    await _sleep(stop, self.retry_seconds)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await self.lock.release()

    async def _lead(self, stop: asyncio.Event) -> None:
        """Run the duties until ``stop`` or until the lock is lost."""
        done = asyncio.Event()
        duties = asyncio.create_task(self.duties(done))
        try:
            while not stop.is_set() and not duties.done():
                await _sleep(stop, self.retry_seconds)
                if not await self.lock.held():
                    self.is_leader = False
                    break
        finally:
            done.set()
            try:
                await duties
            except Exception:  # the loops catch their own errors; this one would end leadership
                log.exception("the leader's duties stopped with an error; trying to lead again")


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):  # the normal way to wait out the interval
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _logged(work: Callable[[], Awaitable[None]]) -> None:
    try:
        await work()
    except Exception:
        log.exception("the new leader's first duty failed; its loops will retry")


def leader_duties(ctx: AppContext) -> Duties:
    """The leader's work: follow the store into the index, and start due scheduled harvests."""
    settings = ctx.settings

    async def duties(stop: asyncio.Event) -> None:
        loops: list[Awaitable[None]] = []
        if ctx.indexer is not None:
            # A change committed by any process (a CLI harvest, another worker's admin job) becomes
            # searchable within ``index_poll_seconds``.
            loops.append(ctx.indexer.follow(settings.index_poll_seconds, stop))
        if settings.scheduler_seconds > 0:
            loops.append(scheduler_loop(ctx, settings.scheduler_seconds, stop))
        await asyncio.gather(*loops)

    return duties


async def start_leadership(ctx: AppContext, stop: asyncio.Event) -> Leadership:
    """Elect (or not) this process, catching the index up first when it leads, as a lone server did."""

    async def catch_up() -> None:
        if ctx.indexer is not None:
            try:
                await ctx.indexer.sync()
            except Exception:
                log.exception("initial index sync failed; the follower will retry")

    leadership = Leadership(leader_lock(ctx.settings), leader_duties(ctx), ctx.settings.leader_retry_seconds)
    await leadership.start(stop, catch_up)
    return leadership

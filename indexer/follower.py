"""Indexing beside a harvest: the index follows the store's change feed while pages are committed.

A harvest (or import) that waited for the index after each page would add the indexing time to its
own, and commit the index once per page. Instead each committed page only wakes the follower
(:meth:`IndexFollower.committed`), which works on the event loop beside the harvest: one round
indexes everything committed since the previous one (``Indexer.sync``), so while a round runs the
next pages pile up and are indexed, and committed to the index, together. When the harvest is done,
:meth:`IndexFollower.finish` waits for the round under way and runs a last one, after which the
index holds every change the harvest committed.

On a machine of several cores the rounds move to a process of their own once the harvest proves more
than a couple of pages (:mod:`indexer.follower_process`); the in-process rounds cover the time it
takes to start, and the last round always runs here.

The index is derived state: a round that fails, or a process killed mid-round, loses nothing the
store has (the next sync starts from the position saved in the index itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from .follower_process import IndexProcess

log = logging.getLogger(__name__)

Sync = Callable[..., Awaitable[int]]  # ``Indexer.sync``: ``until`` ends a round between batches
#: Starts the index process, or answers ``None`` when it may not start now (asked again next page).
StartProcess = Callable[[], IndexProcess | None]
#: Pages committed before an index process is considered: a small harvest is indexed in a moment here.
PROCESS_AFTER_PAGES = 3


class IndexFollower:
    """Runs ``sync`` whenever pages were committed since its last round, one round at a time.

    Use as ``async with IndexFollower(sync) as follower:`` and pass ``follower.committed`` as the
    harvest's ``on_commit``; leaving the block (normally) is :meth:`finish`.
    """

    def __init__(self, sync: Sync, start_process: StartProcess | None = None) -> None:
        self._sync = sync
        self._wake = asyncio.Event()
        self._done = False
        self._task: asyncio.Task[None] | None = None
        self._start_process = start_process
        self._process: IndexProcess | None = None
        self._pages = 0
        self.rounds = 0  # rounds run in this process

    async def __aenter__(self) -> IndexFollower:
        self._task = asyncio.create_task(self._follow(), name="index-follower")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            await self.finish()
        else:
            await self._stop()

    async def committed(self) -> None:
        """A page was committed: index it in the next round (never waits for the index)."""
        self._pages += 1
        if self._process is None and self._start_process is not None and self._pages >= PROCESS_AFTER_PAGES:
            try:
                self._process = self._start_process()
            except Exception:  # e.g. a script without the ``__main__`` guard spawning needs
                log.exception("could not start the index follower's process; indexing in this one")
                self._start_process = None
        if self._process is not None and self._process.ready:
            self._process.wake()
        else:
            self._wake.set()

    async def finish(self) -> int:
        """Wait for the round under way, then index whatever is left; returns what the last round did.

        A failure of that last round is raised: the caller said the index should be caught up.
        """
        await self._stop()
        return await self._sync()

    async def _stop(self) -> None:
        self._done = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        process, self._process = self._process, None
        if process is not None:
            await process.finish()

    def _handed_over(self) -> bool:
        """Whether the process has taken over: a round here stops, so that two do not run at once."""
        return self._process is not None and self._process.ready

    async def _follow(self) -> None:
        while True:
            await self._wake.wait()
            if self._done:
                return
            self._wake.clear()
            try:
                await self._sync(until=self._handed_over)
                self.rounds += 1
            except Exception:  # the next round, or the caller's last one, starts where this one stopped
                log.exception("indexing beside the harvest failed; retrying after the next page")

"""Parse workers: the processes that read a harvest's ListRecords pages into store rows.

Parsing and normalising is CPU work; on the event loop it cannot overlap with fetching the next page
or committing the last one, and it was most of a harvest's time. A parse worker (a process: threads
would share the GIL with the loop) takes the bytes of a page and returns its rows.

A parse worker imports this module and what it needs, not the runner: the store (SQLAlchemy, Alembic)
and the HTTP client would double its start-up, and it only reads pages. (Not to be confused with the
API server's workers.)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from schemas.settings import Settings

from .idle import SpareCore
from .records import RowsPage, read_rows_page

log = logging.getLogger(__name__)

#: How much lower a parse worker's scheduling priority is than the harvesting process's (``nice``).
PARSE_WORKER_NICENESS = 5
# Below this many records a list is read on the event loop: starting a parse worker (about half a
# second of imports) would not pay for itself.
POOL_MIN_RECORDS = 2000

ErrorParts = tuple[type[BaseException], tuple[Any, ...], dict[str, Any]]


# ------------------------------------------------------------------- in the parse worker process


@dataclass
class ParseOutcome:
    """What a parse worker sends back: the page, or the exception it raised taken apart.

    Exceptions with their own ``__init__`` (OAI errors, ``MalformedPage``) are not rebuilt faithfully
    by pickle, so the class, ``args`` and attributes travel instead (:func:`_revive` rebuilds it).
    """

    page: RowsPage | None = None
    error: ErrorParts | None = None


def decode_in_parse_worker(data: bytes, member: str, metadata_prefix: str) -> ParseOutcome:
    """:func:`~harvesters.records.read_rows_page` in a parse worker, its exception sent back as data."""
    try:
        return ParseOutcome(page=read_rows_page(data, member, metadata_prefix))
    except Exception as exc:  # re-raised in the harvest process, as if parsed there
        return ParseOutcome(error=(type(exc), exc.args, dict(vars(exc))))


def start_parse_worker() -> None:
    """A parse worker's initializer: end with the harvesting process and yield the CPU to it, import
    the parsers (the MARC one is otherwise imported lazily by :func:`~harvesters.records.parse_record`),
    then leave all that is imported out of the cyclic collector's full passes, which would walk it
    again and again for nothing (a parse worker's modules live as long as it does).

    With a parse worker per core, a harvest keeps every core busy; at a lower priority they leave
    the harvesting process and, under ``lienhop serve``, searches the CPU they need.
    """
    _end_with_parent()
    if hasattr(os, "nice"):
        os.nice(PARSE_WORKER_NICENESS)
    from . import parse_marc  # noqa: F401

    gc.freeze()


def _end_with_parent() -> None:
    """Exit when the process that started this parse worker is gone, however it ended.

    A parse worker waits for pages on a queue it holds both ends of, so a harvest killed outright
    (SIGKILL, the out-of-memory killer) would otherwise leave its parse workers waiting for ever, about
    100 MB each.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def parse_worker_ready() -> None:
    """Runs in a parse worker once :func:`start_parse_worker` is done: the harvest waits for it."""


# ------------------------------------------------------------------------- in the harvest process


def _revive(error: ErrorParts) -> BaseException:
    cls, args, state = error
    exc = cls.__new__(cls)
    exc.args = args
    vars(exc).update(state)
    return exc


def ignore_outcome(future: asyncio.Future[Any]) -> None:
    """A done-callback for a task whose failure is not news: asyncio must not log it as unhandled.

    A failed warm-up only means pages are read inline; a failed early fetch is made again or not
    needed.
    """
    if not future.cancelled():
        future.exception()


class PageDecoder:
    """Reads ListRecords responses into rows: in parse workers for big lists, else inline.

    The pool is started only when a list proves big (see :data:`POOL_MIN_RECORDS`), and pages are
    read inline until its parse workers have imported the parsers, so small harvests never wait for
    a process to start. The results are the same either way: :func:`~harvesters.records.read_rows_page`
    is pure.
    """

    def __init__(self, parse_workers: int, automatic: bool = True) -> None:
        self.parse_workers = parse_workers
        # automatic: start parse workers only for big lists on an idle machine, read inline meanwhile;
        # otherwise (an explicit count) always use them, waiting for them to start.
        self.automatic = automatic
        self._pool: ProcessPoolExecutor | None = None
        self._ready: asyncio.Future[None] | None = None
        self.pages_in_parse_workers = 0
        self._spare = SpareCore() if automatic and parse_workers > 0 else None

    @classmethod
    def from_settings(cls, settings: Settings) -> PageDecoder:
        """Parse workers as ``harvest_parse_workers`` says: unset = automatic, 0 = none, N = always N.

        Automatic is a parse worker per core (at most one per member harvested at once), none on a
        single core. The harvesting process, which then only fetches and commits, needs a third to a
        half of a core.
        """
        if settings.harvest_parse_workers is None:
            cores = os.cpu_count() or 1
            return cls(min(settings.harvest_concurrency, cores) if cores > 1 else 0)
        return cls(settings.harvest_parse_workers, automatic=False)

    def expect(self, records: int | None) -> None:
        """A list of ``records`` records (``None``: unknown size, but more than one page) is coming."""
        if self.parse_workers < 1 or self._pool is not None:
            return
        if self.automatic:
            if records is not None and records < POOL_MIN_RECORDS:
                return
            # asked again at the next page while the machine is busy (or it is too early to tell)
            if self._spare is None or not self._spare.free():
                return
        # spawn, not fork: the harvest process has threads (SQLite, the executor's own). Like every
        # spawned process a parse worker imports the program's main module again, so scripts that
        # harvest need the usual ``if __name__ == "__main__":`` guard (the ``lienhop`` script has it).
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(
            max_workers=self.parse_workers, mp_context=context, initializer=start_parse_worker
        )
        self._ready = asyncio.get_running_loop().run_in_executor(self._pool, parse_worker_ready)
        self._ready.add_done_callback(ignore_outcome)

    @property
    def _parse_workers_ready(self) -> bool:
        """Whether pages go to the parse workers: started, and done importing the parsers."""
        ready = self._ready
        return self._pool is not None and ready is not None and ready.done() and ready.exception() is None

    @property
    def read_ahead(self) -> int:
        """Pages a list may have read ahead of the one it waits for: one per parse worker once ready.

        With as many pages queued as there are parse workers besides the awaited one, a worker that is
        done goes straight on to the next page. Read on the event loop, a page is read in its turn
        (reading ahead would only move the work earlier).
        """
        return self.parse_workers if self._parse_workers_ready else 0

    async def decode(self, data: bytes, member: str, metadata_prefix: str) -> RowsPage:
        """The page's records as store rows; raises as :func:`~harvesters.records.read_records_page` does."""
        ready = self._ready
        if not self.automatic and ready is not None:
            with contextlib.suppress(Exception):  # a failed start shows below and falls back inline
                await asyncio.shield(ready)
        if not self._parse_workers_ready:
            return read_rows_page(data, member, metadata_prefix)
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(
                self._pool, decode_in_parse_worker, data, member, metadata_prefix
            )
        except BrokenProcessPool:  # a parse worker died (killed, out of memory): carry on inline
            log.warning("a parse worker died; parsing on the event loop from now on")
            self.parse_workers = 0
            await self.close()
            return read_rows_page(data, member, metadata_prefix)
        self.pages_in_parse_workers += 1
        if outcome.error is not None:
            raise _revive(outcome.error)
        assert outcome.page is not None
        return outcome.page

    async def close(self) -> None:
        """Stop the parse workers (waiting off the event loop for them to exit)."""
        pool, self._pool, self._ready = self._pool, None, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

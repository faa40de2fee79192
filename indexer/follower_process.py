"""The index follower in a process of its own, for a harvest on a machine of several cores.

Indexing a record costs about as much CPU as harvesting it (reading it back from the store, building
the work's document, the engine's own work), nearly all of it Python: beside the harvest on one event
loop the two share one core through the GIL. In a process the indexing gets a share of the cores of
its own, and a harvest is searchable about as soon as it is stored.

The process follows the store's change feed exactly as the in-process follower does
(``Indexer.sync``, woken after each committed page, and at least every :data:`POLL_SECONDS`), and runs
a last round when told to finish. Its rounds are lazy (``Indexer.sync(lazy=True)``): the index is
committed at most once every ``indexer.pipeline.COMMIT_SECONDS``, not after every page, and the last
round commits everything. It is spawned (the harvesting process has threads) and takes about
a second of imports to start; until it is ready, and whenever it is gone, the in-process follower does
the work, and the harvesting process always runs a last ``sync`` itself after it: the child is an
accelerator, never the one place the index is caught up. Two writers never damage the index: tantivy
lets one process write at a time (the other waits), and a change indexed twice is written twice.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
from multiprocessing.synchronize import Event

from schemas.settings import Settings

log = logging.getLogger(__name__)

#: How long the process waits for a page before looking at the change feed anyway.
POLL_SECONDS = 0.5
#: How long a harvest waits for the process's last round before stopping it (the harvesting process
#: then catches the index up itself).
FINISH_SECONDS = 600.0


# ----------------------------------------------------------------------------- in the child process


def follow_in_process(settings: Settings, wake: Event, finish: Event, ready: Event) -> None:
    """The child's body: sync on every wake-up until ``finish``, then once more, then exit."""
    _end_with_parent()
    asyncio.run(_follow(settings, wake, finish, ready))


async def _follow(settings: Settings, wake: Event, finish: Event, ready: Event) -> None:
    from search.factory import open_backend
    from store.front import RecordStore

    from .pipeline import Indexer

    store = await RecordStore.open(settings.db_url)
    try:
        backend = await open_backend(settings)
        try:
            indexer = Indexer(store, backend)
            _collect_less()
            ready.set()
            while not finish.is_set():
                await asyncio.to_thread(wake.wait, POLL_SECONDS)
                wake.clear()
                try:
                    await indexer.sync(lazy=True)  # committed at least every COMMIT_SECONDS
                except Exception:  # the next round (or the harvesting process) starts where it stopped
                    log.exception("indexing beside the harvest failed; retrying")
            await indexer.sync()
        finally:
            await backend.close()
    finally:
        await store.close()


def _collect_less() -> None:
    """Tune the cyclic garbage collector for a process that only indexes.

    A round keeps a batch's records and documents alive while it builds them, thousands of objects
    that the default thresholds have the collector walk again and again; they hold no reference
    cycles, so reference counting frees them anyway. What is imported by now lives as long as the
    process: it is left out of the collector's passes altogether.
    """
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)  # defaults (700, 10, 10): a young pass every 700 objects


def _end_with_parent() -> None:
    """Exit when the harvesting process is gone, however it ended (a kill -9 included)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# ------------------------------------------------------------------------ in the harvesting process


class IndexProcess:
    """The harvesting process's handle on the child: start, wake, finish."""

    def __init__(self, settings: Settings) -> None:
        context = multiprocessing.get_context("spawn")
        self._wake = context.Event()
        self._finish = context.Event()
        self._ready = context.Event()
        self._process = context.Process(
            target=follow_in_process,
            args=(settings, self._wake, self._finish, self._ready),
            name="lienhop-index-follower",
            daemon=True,
        )

    def start(self) -> None:
        self._process.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def ready(self) -> bool:
        """Whether the child has opened the store and index and follows the change feed."""
        return self._ready.is_set() and self._process.is_alive()

    def wake(self) -> None:
        """A page was committed (never blocks)."""
        self._wake.set()

    async def finish(self) -> None:
        """Let the child run its last round and exit; stop it if it is not ready or takes too long."""
        self._finish.set()
        self._wake.set()
        process = self._process
        if not self._ready.is_set():
            process.terminate()  # still importing: the harvesting process's own last round is quicker
        await asyncio.to_thread(process.join, FINISH_SECONDS)
        if process.is_alive():
            log.warning("the index follower process did not finish in %.0f s; stopping it", FINISH_SECONDS)
            process.terminate()
            await asyncio.to_thread(process.join)
        elif process.exitcode not in (0, None) and self._ready.is_set():
            log.warning("the index follower process ended with exit code %s", process.exitcode)

"""Feeding the search index from the record store.

Two paths, both idempotent:

* ``sync`` follows the store's *work* changes (a work takes a new number from the store-wide change
  sequence whenever one of its records, or its membership, changes): every work changed since the
  index's recorded position is indexed again from its live records, a dead work (merged away or
  emptied) is deleted, then the new position is saved *in the index itself*, so an index always knows
  how far it has caught up, whichever process wrote it.
* ``reindex`` rebuilds into a new versioned index while the live one keeps answering, replays the
  work changes that happened meanwhile, and swaps the alias atomically. A failure before the swap
  drops the new index and leaves the live one untouched.

The search document is the work (``indexer.documents.work_document``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from schemas.errors import LienhopError
from schemas.progress import NullProgress, ProgressSink
from schemas.search import IndexDocument, SearchRequest
from search.backend import SearchBackend
from search.query import parse_query
from store.front import RecordStore
from store.records import StoredRecord

from .documents import work_document

log = logging.getLogger(__name__)


#: How often a long catch-up commits the index (and saves its position) on its way.
COMMIT_SECONDS = 1.0


def _documents(works: list[tuple[str, int, list[StoredRecord]]]) -> list[IndexDocument]:
    return [
        work_document(work_id, seq, [(s.id, s.record) for s in held]) for work_id, seq, held in works if held
    ]


class IndexingError(LienhopError):
    status = 500
    title = "Indexing failed"


@dataclass
class ReindexReport:
    indexed: int  # works
    records: int  # their live records
    seconds: float
    new_index: str
    old_index: str | None
    position: int


class Indexer:
    """Keeps one search backend in step with one record store."""

    def __init__(self, store: RecordStore, backend: SearchBackend, batch: int = 2000) -> None:
        self.store = store
        self.backend = backend
        self.batch = batch
        # Incremental syncs and the alias swap must not interleave; a rebuild itself may run beside syncs.
        self._sync_lock = asyncio.Lock()
        self._reindex_lock = asyncio.Lock()
        self._format_checked = False
        # The index position this process last saw: when another process (the index follower's, a
        # CLI harvest) moved it, this process's reader is reloaded so its searches see those works now.
        self._seen_position: int | None = None
        # Where a lazy sync stopped: works written to the live index up to here are not committed
        # yet (the writer holds them), and the next sync goes on from here.
        self._uncommitted: int | None = None
        self._committed_at = time.monotonic()

    async def sync(self, until: Callable[[], bool] | None = None, lazy: bool = False) -> int:
        """Index every work changed after the live index's position; returns how many works.

        ``until`` is asked between batches: when it answers True the sync stops there (what it
        indexed is committed, the rest is left to the next one).

        ``lazy``: commit only when the last commit is ``COMMIT_SECONDS`` old; otherwise what this sync
        wrote waits, uncommitted, for the next sync (which goes on from there). For a follower woken
        after every page of a harvest: a commit a page costs far more CPU than one a second
        (``bench/README.md``), and a change is still searchable within ``COMMIT_SECONDS`` of the
        next sync. Only one process may hold uncommitted writes (it holds the index's writer
        meanwhile); the last sync must not be lazy.
        """
        if not self._format_checked:
            await self._rebuild_a_records_index()
        async with self._sync_lock:
            before = await self.backend.get_position()
            moved = before != self._seen_position  # and on the first sync: nothing seen yet
            applied = await self._catch_up(None, until, lazy)
            after = await self.backend.get_position()
            if (applied or moved or after != before) and self._uncommitted is None:
                await self.backend.refresh()
            self._seen_position = after
            return applied

    async def _rebuild_a_records_index(self) -> None:
        """Rebuild, once, a live index made before the search document was the work.

        Such an index holds one document per record (``member`` one code, no record refs), which no
        work change would ever replace: its documents no longer read as an ``IndexDocument``.
        """
        async with self._reindex_lock:
            if self._format_checked:
                return
            try:
                await self.backend.search(parse_query(""), SearchRequest(size=1, facets=[], highlight=False))
                stale = False
            except ValidationError:
                stale = True
        if stale:
            log.warning("the live search index holds records, not works: rebuilding it from the store")
            await self.reindex()
        self._format_checked = True

    async def _catch_up(
        self, index: str | None, until: Callable[[], bool] | None = None, lazy: bool = False
    ) -> int:
        saved = await self.backend.get_position(index)
        position = saved
        committed = time.monotonic()
        if index is None:
            position = max(saved, self._uncommitted or 0)
            committed = self._committed_at
        applied = 0
        while True:
            changes = await self.store.work_changes_since(position, limit=self.batch)
            if not changes:
                break
            alive = [work_id for work_id, _, live in changes if live]
            held = await self.store.works_records(alive, raw=False) if alive else {}
            # A work changed again after this read is indexed as it is now, and once more by its
            # later change: a position never runs ahead of what the index holds.
            works = [(work_id, seq, held.get(work_id, [])) for work_id, seq, _ in changes]
            await self._apply(works, index)
            position = changes[-1][1]
            applied += len(changes)
            # Saving the position commits the index (a new segment, the readers reloaded): once a
            # second while a long backlog is worked through, so what is done becomes searchable
            # without a commit per batch.
            if time.monotonic() - committed >= COMMIT_SECONDS:
                await self.backend.set_position(position, index)
                saved, committed = position, time.monotonic()
            if until is not None and until():
                break
        if position != saved and not (lazy and time.monotonic() - committed < COMMIT_SECONDS):
            await self.backend.set_position(position, index)
            saved, committed = position, time.monotonic()
        if index is None:
            self._uncommitted = position if position != saved else None
            self._committed_at = committed
        return applied

    async def _apply(self, works: list[tuple[str, int, list[StoredRecord]]], index: str | None) -> None:
        """Index each work from its live records; a work without any (dead, emptied) is deleted."""
        # built off the event loop, so that a harvest committing pages on it is not held up meanwhile
        docs = await asyncio.to_thread(_documents, works)
        deletes = [work_id for work_id, _, held in works if not held]
        report = await self.backend.bulk(docs, deletes, index=index)
        if report.failed:
            # Stop before moving the position: the next sync retries the same changes.
            sample = "; ".join(f"{doc_id}: {reason}" for doc_id, reason in report.failed[:3])
            raise IndexingError(f"{len(report.failed)} documents were rejected by the index ({sample})")

    async def reindex(self, progress: ProgressSink | None = None) -> ReindexReport:
        """Rebuild the whole index from the store's works and swap it in without a gap in search
        answers (``indexed``: how many works). The clusters themselves are the store's as they are:
        ``lienhop reindex`` re-clusters first (``app.operations.reindex``)."""
        sink = progress or NullProgress()
        async with self._reindex_lock:
            started = time.monotonic()
            start_seq = await self.store.max_seq()
            total = await self.store.count_live()
            new_index = await self.backend.create_index()
            sink.begin("reindex", total)  # in records: the unit the store counts cheaply
            indexed = records = 0
            try:
                async for batch in self.store.iter_live_works(batch=max(1, self.batch // 4), raw=False):
                    await self._apply([(work_id, 0, held) for work_id, held in batch], new_index)
                    indexed += len(batch)
                    in_batch = sum(len(held) for _, held in batch)
                    records += in_batch
                    sink.advance("reindex", in_batch)
                await self.backend.set_position(start_seq, new_index)
                await self._catch_up(new_index)  # changes committed while the rebuild ran
                await self.backend.refresh(new_index)
                async with self._sync_lock:
                    await self._catch_up(new_index)
                    await self.backend.refresh(new_index)
                    old_index = await self.backend.swap_alias(new_index)
                    position = await self.backend.get_position()
            except BaseException as exc:
                sink.end("reindex", ok=False, message=str(exc))
                try:
                    await self.backend.drop_index(new_index)
                except Exception:  # the original error matters more than the clean-up
                    log.exception("could not drop the half-built index %s", new_index)
                raise
            sink.end("reindex", ok=True, message=f"{indexed} works ({records} records)")
            self._format_checked = True
            return ReindexReport(
                indexed=indexed,
                records=records,
                seconds=time.monotonic() - started,
                new_index=new_index,
                old_index=old_index,
                position=position,
            )

    async def follow(self, interval: float, stop: asyncio.Event) -> None:
        """Sync every ``interval`` seconds until ``stop`` is set; errors are logged and retried."""
        while not stop.is_set():
            try:
                await self.sync()
            except Exception:
                log.exception("incremental indexing failed; retrying in %.1fs", interval)
            with contextlib.suppress(TimeoutError):  # the normal way to wait out the interval
                await asyncio.wait_for(stop.wait(), timeout=interval)

"""Feeding the search index from the record store.

Two paths, both idempotent:

* ``sync`` follows the store's change sequence: every committed upsert or tombstone since the index's
  recorded position is indexed or deleted, then the new position is saved *in the index itself*, so an
  index always knows how far it has caught up, whichever process wrote it.
* ``reindex`` rebuilds into a new versioned index while the live one keeps answering, replays the
  changes that happened meanwhile, and swaps the alias atomically. A failure before the swap drops the
  new index and leaves the live one untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from schemas.errors import LienhopError
from schemas.progress import NullProgress, ProgressSink
from search.backend import SearchBackend
from store.front import RecordStore
from store.records import StoredRecord

from .documents import to_document

log = logging.getLogger(__name__)


class IndexingError(LienhopError):
    status = 500
    title = "Indexing failed"


@dataclass
class ReindexReport:
    indexed: int
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

    async def sync(self) -> int:
        """Index every store change after the live index's position; returns how many were applied."""
        async with self._sync_lock:
            applied = await self._catch_up(None)
            if applied:
                await self.backend.refresh()
            return applied

    async def _catch_up(self, index: str | None) -> int:
        position = await self.backend.get_position(index)
        applied = 0
        while True:
            changes = await self.store.changes_since(position, limit=self.batch)
            if not changes:
                return applied
            await self._apply(changes, index)
            position = changes[-1].seq
            await self.backend.set_position(position, index)
            applied += len(changes)

    async def _apply(self, changes: list[StoredRecord], index: str | None) -> None:
        docs = [to_document(c.id, c.seq, c.record) for c in changes if not c.deleted]
        deletes = [c.id for c in changes if c.deleted]
        report = await self.backend.bulk(docs, deletes, index=index)
        if report.failed:
            # Stop before moving the position: the next sync retries the same changes.
            sample = "; ".join(f"{doc_id}: {reason}" for doc_id, reason in report.failed[:3])
            raise IndexingError(f"{len(report.failed)} documents were rejected by the index ({sample})")

    async def reindex(self, progress: ProgressSink | None = None) -> ReindexReport:
        """Rebuild the whole index from the store and swap it in without a gap in search answers."""
        sink = progress or NullProgress()
        async with self._reindex_lock:
            started = time.monotonic()
            start_seq = await self.store.max_seq()
            total = await self.store.count_live()
            new_index = await self.backend.create_index()
            sink.begin("reindex", total)
            indexed = 0
            try:
                async for batch in self.store.iter_live(batch=self.batch):
                    await self._apply(batch, new_index)
                    indexed += len(batch)
                    sink.advance("reindex", len(batch))
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
            sink.end("reindex", ok=True, message=f"{indexed} records")
            return ReindexReport(
                indexed=indexed,
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

"""Committing a member's harvest: each page with its checkpoint, reconciliation's tombstones, and the
pages that could not be read (kept in quarantine so that the next run asks for them again).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from schemas.progress import ProgressSink
from schemas.record import QuarantinedItem, Record
from store.front import RecordStore
from store.rows import RecordRow

from .checkpoint import Checkpoint
from .oai.errors import MalformedPage

log = logging.getLogger(__name__)

_QUARANTINE_RAW_LIMIT = 4 * 1024 * 1024

OnCommit = Callable[[], Awaitable[None]]


class PageCommitter:
    """Writes one member's pages to the store for one run, and tells progress and ``on_commit``."""

    def __init__(
        self,
        store: RecordStore,
        code: str,
        run_id: int,
        progress: ProgressSink,
        on_commit: OnCommit | None,
    ) -> None:
        self.store = store
        self.code = code
        self.run_id = run_id
        self.progress = progress
        self.on_commit = on_commit
        self.done = 0  # records (stored or quarantined) committed in this run

    async def commit(
        self,
        records: list[RecordRow],
        bad: list[QuarantinedItem],
        state: dict[str, Any] | None,
    ) -> None:
        """A page and the checkpoint (``state``) that says how to fetch the next one, in one transaction."""
        await self.store.commit_rows(self.code, self.run_id, records, bad, state=state)
        self.done += len(records) + len(bad)
        saved = state or {}
        totals = saved.get("totals") or {}
        self.progress.advance(self.code, len(records) + len(bad), total=sum(totals.values()) or None)
        await self._committed()

    async def save_checkpoint(self, cp: Checkpoint) -> None:
        """The checkpoint alone (no page came with this step)."""
        await self.store.set_harvest_state(self.code, cp.to_json())

    async def commit_tombstones(self, page: list[Record]) -> None:
        """Commit a page of reconciliation tombstones (the checkpoint is already cleared)."""
        await self.store.commit_page(self.code, self.run_id, page)
        await self._committed()

    async def quarantine_page(self, cp: Checkpoint, token: str | None, exc: MalformedPage) -> None:
        """Keep an unreadable page with its reason; the checkpoint stays, so the next run retries it."""
        raw = exc.raw[:_QUARANTINE_RAW_LIMIT].decode("utf-8", errors="replace")
        where = f"token {token!r}" if token else f"first page of set {cp.sets[cp.set_index]!r}"
        kind = "unsafe" if exc.unsafe else "malformed"
        item = QuarantinedItem(member=self.code, reason=f"{kind} ListRecords page ({where}): {exc}", raw=raw)
        await self.store.commit_page(self.code, self.run_id, [], [item])

    async def _committed(self) -> None:
        if self.on_commit is not None:
            try:
                await self.on_commit()
            except Exception:  # the indexer catches up from the store's change feed later
                log.exception("on_commit hook failed after a page of %s", self.code)

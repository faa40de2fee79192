"""What one process opens once and hands around: the store, the search backend, the indexer, jobs.

The API's lifespan and every CLI command build it from the one :class:`~schemas.settings.Settings`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from indexer.pipeline import Indexer
from schemas.errors import BackendUnavailable
from schemas.settings import Settings
from search.backend import SearchBackend
from search.factory import open_backend
from search.service import SearchService
from store.front import RecordStore

from .auth import load_secret
from .holdings import hit_holdings
from .jobs import JobRegistry

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """The opened resources of one process."""

    settings: Settings
    store: RecordStore
    backend: SearchBackend | None = None
    search: SearchService | None = None
    indexer: Indexer | None = None
    search_error: str | None = None
    jobs: JobRegistry = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobRegistry(self.store, queue=self.settings.job_queue)

    def require_search(self) -> SearchService:
        """The search service, or :class:`BackendUnavailable` saying why there is none."""
        if self.search is None:
            raise BackendUnavailable(self.search_error or "no search backend is open")
        return self.search

    async def sync_index(self) -> int:
        """Index what the store committed since the index's position (after a harvest page or import)."""
        if self.indexer is None:
            return 0
        return await self.indexer.sync()

    async def close(self) -> None:
        """Close the backend and the store."""
        if self.backend is not None:
            await self.backend.close()
        await self.store.close()


async def open_context(settings: Settings, with_search: bool = True) -> AppContext:
    """Open the store and, unless told otherwise, the search backend, service and indexer."""
    store = await RecordStore.open(settings.db_url)
    ctx = AppContext(settings=settings, store=store)
    if not with_search:
        return ctx
    try:
        backend = await open_backend(settings)
    except Exception:
        await store.close()
        raise
    ctx.backend = backend
    # Hits are works: the service lists each one's holders with the members read from the store; with
    # a key, cursors are signed.
    ctx.search = SearchService(
        backend,
        max_size=settings.search_max_size,
        cursor_key=load_secret(settings),
        holdings=hit_holdings(store),
    )
    ctx.indexer = Indexer(store, backend)
    return ctx

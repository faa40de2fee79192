"""Open the configured search backend: Elasticsearch/OpenSearch when a URL is set, else embedded SQLite."""

from __future__ import annotations

from schemas.settings import Settings

from .backend import SearchBackend
from .sqlite_fts import SqliteBackend


async def open_backend(settings: Settings) -> SearchBackend:
    """Build and open the backend ``settings`` ask for."""
    backend: SearchBackend
    if settings.elasticsearch_url:
        # Imported lazily: the embedded default must work without the search-engine clients loaded.
        from .elastic import ElasticBackend

        backend = ElasticBackend(
            settings.elasticsearch_url, alias=settings.elasticsearch_index, engine=settings.search_engine
        )
    else:
        backend = SqliteBackend(settings.index_dir)
    await backend.open()
    return backend

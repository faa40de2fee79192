"""Open the configured search backend: Elasticsearch/OpenSearch when a URL is set, else the embedded one
(tantivy by default, SQLite FTS5 when ``embedded_backend`` says so)."""

from __future__ import annotations

from schemas.settings import Settings

from .backend import SearchBackend
from .sqlite_fts import SqliteBackend
from .tantivy_index import TantivyBackend


async def open_backend(settings: Settings) -> SearchBackend:
    """Build and open the backend ``settings`` ask for."""
    backend: SearchBackend
    if settings.elasticsearch_url:
        # Imported lazily: the embedded default must work without the search-engine clients loaded.
        from .elastic import ElasticBackend

        backend = ElasticBackend(
            settings.elasticsearch_url, alias=settings.elasticsearch_index, engine=settings.search_engine
        )
    elif settings.embedded_backend == "sqlite":
        backend = SqliteBackend(settings.index_dir)
    else:
        # Its own sub-folder: the SQLite index files of an existing data folder stay where they are.
        backend = TantivyBackend(settings.index_dir / "tantivy")
    await backend.open()
    return backend

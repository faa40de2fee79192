"""Open the configured search backend: Elasticsearch/OpenSearch when a URL is set, else the embedded
tantivy index."""

from __future__ import annotations

from schemas.settings import Settings

from .backend import SearchBackend
from .tantivy_index import TantivyBackend


async def open_backend(settings: Settings) -> SearchBackend:
    """Build and open the backend ``settings`` ask for."""
    backend: SearchBackend
    if settings.elasticsearch_url:
        # Imported lazily: the embedded default must work without the search-engine clients loaded.
        from .elastic import ElasticBackend

        backend = ElasticBackend(
            settings.elasticsearch_url,
            alias=settings.elasticsearch_index,
            engine=settings.search_engine,
            shards=settings.search_shards,
            replicas=settings.search_replicas,
        )
    else:
        # Its own sub-folder: index files of the retired SQLite FTS5 backend may sit in ``index_dir``.
        backend = TantivyBackend(settings.index_dir / "tantivy")
    await backend.open()
    return backend

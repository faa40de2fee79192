"""The ``backend`` fixture: every search test runs on the embedded backend (tantivy) and on
a real Elasticsearch/OpenSearch node (the session node of ``tests/search_node``), with the same
expectations."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from search.backend import SearchBackend
from search.elastic import ElasticBackend
from search.tantivy_index import TantivyBackend


@pytest_asyncio.fixture(params=["tantivy", "elasticsearch"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchBackend]:
    """An opened, empty backend; the Elasticsearch one lives on a unique alias, deleted afterwards."""
    if request.param == "tantivy":
        opened = TantivyBackend(tmp_path / "tantivy")
        await opened.open()
        try:
            yield opened
        finally:
            await opened.close()
        return
    url = request.getfixturevalue("search_node_url")
    es = ElasticBackend(url, alias=f"conf-{uuid.uuid4().hex[:12]}")
    await es.open()
    try:
        yield es
    finally:
        for name in await es.list_indexes():
            await es.client.indices.delete(index=name)
        await es.close()

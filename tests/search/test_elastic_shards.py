"""``LIENHOP_SEARCH_SHARDS`` and ``LIENHOP_SEARCH_REPLICAS`` on the real node: every index the backend
creates carries the configured counts, a rebuild fills its index without replicas and gets them back
when it goes live, and searches over several shards answer complete results and facets.

On the session's single node a replica cannot be placed (the index stays yellow): what is checked is
what the index was created with, which is what a cluster would place.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import pytest

from schemas.search import SearchRequest
from schemas.settings import Settings
from search.elastic import ElasticBackend
from search.factory import open_backend
from search.query import parse_query
from tests.search.test_elastic_backend import CORPUS

pytestmark = pytest.mark.asyncio


def _index_settings(url: str, index: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/{index}/_settings", timeout=60) as answer:
        found: dict[str, Any] = json.loads(answer.read())[index]["settings"]["index"]
    return found


async def test_created_indexes_carry_the_configured_shards_and_replicas(search_node_url: str) -> None:
    settings = Settings(
        elasticsearch_url=search_node_url,
        elasticsearch_index=f"sh-{uuid.uuid4().hex[:12]}",
        search_shards=3,
        search_replicas=1,
    )
    backend = await open_backend(settings)
    assert isinstance(backend, ElasticBackend)
    try:
        live = await backend.live_index()
        assert live is not None
        made = _index_settings(search_node_url, live)
        assert (made["number_of_shards"], made["number_of_replicas"]) == ("3", "1")
        assert "refresh_interval" not in made  # the build settings are gone once it is live

        # A rebuild is filled without replicas, and has them once it is refreshed and made live.
        rebuilt = await backend.create_index()
        building = _index_settings(search_node_url, rebuilt)
        assert (building["number_of_shards"], building["number_of_replicas"]) == ("3", "0")
        assert (await backend.bulk(CORPUS, index=rebuilt)).failed == []
        await backend.refresh(rebuilt)
        await backend.swap_alias(rebuilt)
        done = _index_settings(search_node_url, rebuilt)
        assert (done["number_of_shards"], done["number_of_replicas"]) == ("3", "1")

        # Spread over three shards, every document is found and every facet count is whole.
        result = await backend.search(
            parse_query(""), SearchRequest.model_validate({"size": 50, "facets": ["member"]})
        )
        assert result.total == len(CORPUS) and len(result.hits) == len(CORPUS)
        counts = {value.value: value.count for value in result.facets["member"]}
        assert counts == {"hust": 4, "vnu": 2, "ctu": 2}
    finally:
        for name in await backend.list_indexes():
            await backend.client.indices.delete(index=name)
        await backend.close()


async def test_the_defaults_are_one_shard_and_no_replica(search_node_url: str) -> None:
    backend = ElasticBackend(search_node_url, alias=f"sh-{uuid.uuid4().hex[:12]}")
    await backend.open()
    try:
        live = await backend.live_index()
        assert live is not None
        made = _index_settings(search_node_url, live)
        assert (made["number_of_shards"], made["number_of_replicas"]) == ("1", "0")
    finally:
        for name in await backend.list_indexes():
            await backend.client.indices.delete(index=name)
        await backend.close()

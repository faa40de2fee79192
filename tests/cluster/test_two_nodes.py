"""A two-node OpenSearch cluster with one replica: searches keep answering complete results while a node
is down, and indexing goes on and resumes on the returning node.

The nodes are two JVMs started by the same runner as the session's test node (``tests/search_node``),
joined through their transport ports. Node 0 is the cluster manager, node 1 holds data only: a quorum of
two managers cannot survive losing either, so this is the two-node layout that survives losing the data
node; production runs three managers (``docker-compose.prod.yml``). The node killed is the one holding
the primary shard, so its replica on node 0 must be promoted. Deselect with ``-m "not cluster"``.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from app.context import AppContext, open_context
from schemas.member import MemberCreate
from schemas.record import Record
from schemas.search import SearchRequest
from schemas.settings import Settings
from tests.search_node import ClusterHandle, SearchNodeError, start_cluster

pytestmark = [pytest.mark.cluster, pytest.mark.asyncio, pytest.mark.timeout(900)]


def _call(url: str, method: str = "GET", body: Any = None, timeout: float = 120) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


@pytest.fixture(scope="module")
def cluster() -> Iterator[ClusterHandle]:
    if os.environ.get("LIENHOP_TEST_ELASTICSEARCH_URL"):
        pytest.skip(
            "LIENHOP_TEST_ELASTICSEARCH_URL names a node of your own; the cluster test starts its own"
        )
    try:
        started = start_cluster(2, heap="512m")
    except SearchNodeError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no two-node search cluster: {exc}")
    try:
        yield started
    finally:
        started.stop()


@pytest_asyncio.fixture
async def ctx(cluster: ClusterHandle, tmp_path: Path) -> AsyncIterator[AppContext]:
    settings = Settings(
        home=tmp_path / "var",
        elasticsearch_url=cluster.url,
        search_engine="opensearch",
        elasticsearch_index=f"lienhop-{tmp_path.name.lower()[:40]}",
        search_replicas=1,  # every shard on both nodes
    )
    opened = await open_context(settings)
    try:
        await opened.store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
        yield opened
    finally:
        await opened.close()


async def _add(ctx: AppContext, start: int, count: int) -> None:
    records = [
        Record(member="HUE", oai_identifier=f"oai:hue:{n}", title=f"Nông nghiệp bền vững tập {n}")
        for n in range(start, start + count)
    ]
    await ctx.store.commit_page("HUE", None, records)
    await ctx.sync_index()


async def _ids(ctx: AppContext) -> tuple[int, set[str]]:
    """Total and ids of every hit for "nong nghiep" (paged by cursor)."""
    ids: set[str] = set()
    cursor = None
    while True:
        request = SearchRequest.from_params("nong nghiep", size=100, cursor=cursor, facets="member")
        response = await ctx.require_search().search(request)
        ids.update(hit.work_id for hit in response.hits)
        if not response.next_cursor or not response.hits:
            return response.total, ids
        cursor = response.next_cursor


def _health(cluster: ClusterHandle, index: str, status: str, nodes: int) -> dict[str, Any]:
    url = (
        f"{cluster.url}/_cluster/health/{index}?wait_for_status={status}&wait_for_nodes={nodes}&timeout=120s"
    )
    health: dict[str, Any] = _call(url, timeout=150)
    assert not health["timed_out"], health
    return health


async def test_searches_stay_complete_while_a_node_is_down_and_indexing_resumes(
    cluster: ClusterHandle, ctx: AppContext
) -> None:
    alias = ctx.settings.elasticsearch_index
    await _add(ctx, 0, 300)
    # LIENHOP_SEARCH_REPLICAS=1: the index was made with a replica, placed on the other node.
    _health(cluster, alias, "green", 2)
    total, before = await _ids(ctx)
    assert total == len(before) == 300

    shards = _call(f"{cluster.url}/_cat/shards/{alias}?format=json")
    assert sorted(s["prirep"] for s in shards if s["state"] == "STARTED") == ["p", "r"]
    assert {n["name"] for n in _call(f"{cluster.url}/_cat/nodes?format=json&h=name")} == {"node-0", "node-1"}
    # Kill the node holding the primary: if node 0 holds it, fail that copy so node 1's is promoted.
    if next(s["node"] for s in shards if s["prirep"] == "p") == "node-0":
        (index,) = {s["index"] for s in shards}
        cancel = {"cancel": {"index": index, "shard": 0, "node": "node-0", "allow_primary": True}}
        _call(f"{cluster.url}/_cluster/reroute", "POST", {"commands": [cancel]})
        _health(cluster, alias, "green", 2)
        shards = _call(f"{cluster.url}/_cat/shards/{alias}?format=json")
    assert next(s["node"] for s in shards if s["prirep"] == "p") == "node-1"

    cluster.kill(1)
    for _ in range(5):  # complete answers, whichever moment after the crash
        total, during = await _ids(ctx)
        assert (total, during) == (300, before)

    await _add(ctx, 300, 50)  # written while the node is away (the replica on node 0 became primary)
    total, during = await _ids(ctx)
    assert total == len(during) == 350

    cluster.restart(1)
    _health(cluster, alias, "green", 2)  # the returning node has its copy again
    await _add(ctx, 350, 50)
    total, after = await _ids(ctx)
    assert total == len(after) == 400
    shards = _call(f"{cluster.url}/_cat/shards/{alias}?format=json")
    assert sorted((s["prirep"], s["state"]) for s in shards) == [("p", "STARTED"), ("r", "STARTED")]
    assert {s["docs"] for s in shards} == {"400"}  # both copies hold every document

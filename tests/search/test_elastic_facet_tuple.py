"""The type/language facets from one ``facet_tuple`` aggregation (``search.elastic``).

``member`` is not in the tuple (a work is held by several members). The facets must equal those of
separate aggregations: on an index with the field, on an index
built before it (no field in its mapping), when the alias moves to such an index behind the
backend's back, and when there are more combinations than the aggregation returns.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio

from schemas.search import IndexDocument, SearchFilters, SearchRequest
from search.backend import BackendResult
from search.elastic import ElasticBackend, plan
from search.elastic.mapping import FACET_TUPLE_FIELD, index_body, to_source
from search.elastic.results import split_tuple
from search.query import parse_query
from tests.search.test_elastic_backend import make_doc

MEMBERS = ("hust", "vnu", "ctu", "neu", "đhqg")
TYPES = ("book", "thesis", "article")
LANGUAGES = ("vie", "eng", None, "fra")
SUBJECTS = ("Toán học", "Tin học", "Văn học")


def corpus() -> list[IndexDocument]:
    """Uneven, tie-rich counts, including documents without a language."""
    docs = []
    for i in range(70):
        docs.append(
            make_doc(
                f"d{i:03}",
                f"Khoa học {'máy tính' if i % 3 else 'xã hội'} tập {i}",
                subjects=[SUBJECTS[i % 3]],
                year=2000 + i % 7,
                member=MEMBERS[(i * i + i // 3) % 5],
                type_=TYPES[i % 3 if i % 4 else 0],
                language=LANGUAGES[(i // 2) % 4],
            )
        )
    return docs


def old_index_body() -> dict[str, Any]:
    """The mapping of an index built before ``FACET_TUPLE_FIELD`` existed."""
    body = index_body()
    del body["mappings"]["properties"][FACET_TUPLE_FIELD]
    body["mappings"]["_source"]["excludes"].remove(FACET_TUPLE_FIELD)
    return body


async def fill(backend: ElasticBackend, old: bool) -> str:
    """Fill a new index of ``backend`` with ``corpus()`` and make it live; ``old``: without the field."""
    if old:
        name = f"{backend.alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        await backend.client.indices.create(index=name, body=old_index_body())
    else:
        name = await backend.create_index()
    report = await backend.bulk(corpus(), index=name)
    assert report.failed == [] and report.indexed == 70
    await backend.refresh(name)
    await backend.swap_alias(name)
    return name


@pytest_asyncio.fixture
async def pair(search_node_url: str) -> AsyncIterator[tuple[ElasticBackend, ElasticBackend]]:
    """Two backends on fresh aliases of the session node, the same documents: (with field, without)."""
    backends = [ElasticBackend(search_node_url, alias=f"ft-{uuid.uuid4().hex[:12]}") for _ in range(2)]
    for backend in backends:
        await backend.open()
    try:
        await fill(backends[0], old=False)
        await fill(backends[1], old=True)
        yield backends[0], backends[1]
    finally:
        for backend in backends:
            for name in await backend.list_indexes():
                await backend.client.indices.delete(index=name)
            await backend.close()


REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("khoa học", {}),
    ("máy tính", {"facet_size": 2}),
    ("khoa", {"facet_size": 1, "sort": "year_desc"}),
    ("tập", {"filters": SearchFilters(member=["vnu", "đhqg"]), "facet_size": 3}),
    ("xã hội", {"filters": SearchFilters(language=["eng"]), "facets": ["language", "type"]}),
    ("khoa học", {"facets": ["member", "language", "subject"], "size": 0}),
    ("không có", {}),
]


async def results(backend: ElasticBackend) -> list[BackendResult]:
    out = []
    for q, request in REQUESTS:
        out.append(await backend.search(parse_query(q), SearchRequest(**{"size": 5, **request})))
    return out


def facets_of(found: list[BackendResult]) -> list[tuple[int, dict[str, list[tuple[str, int]]]]]:
    return [
        (r.total, {name: [(f.value, f.count) for f in values] for name, values in r.facets.items()})
        for r in found
    ]


def test_split_orders_by_count_then_value_and_skips_missing_values() -> None:
    buckets = [
        {"key": '["book","vie"]', "doc_count": 3},
        {"key": '["book",null]', "doc_count": 2},
        {"key": '["thesis","eng"]', "doc_count": 1},
        {"key": '["book","eng"]', "doc_count": 2},
    ]
    split = split_tuple(buckets, ("type", "language"), 2)
    assert split["type"]["buckets"] == [{"key": "book", "doc_count": 7}, {"key": "thesis", "doc_count": 1}]
    assert split["language"]["buckets"] == [{"key": "eng", "doc_count": 3}, {"key": "vie", "doc_count": 3}]


def test_the_tuple_is_an_engine_only_field() -> None:
    source = to_source(make_doc("x", "T", member="vnu", type_="thesis", language=None))
    assert source[FACET_TUPLE_FIELD] == '["thesis",null]'
    assert source["member"] == ["vnu"], "member is a field of its own: a work has several holders"
    assert FACET_TUPLE_FIELD in index_body()["mappings"]["_source"]["excludes"]


@pytest.mark.asyncio
async def test_an_index_without_the_field_gives_the_same_facets(
    pair: tuple[ElasticBackend, ElasticBackend],
) -> None:
    new, old = pair
    with_field, without = await results(new), await results(old)
    assert facets_of(with_field) == facets_of(without)
    assert [[h.doc.id for h in r.hits] for r in with_field] == [[h.doc.id for h in r.hits] for r in without]
    first = facets_of(with_field)[0]
    assert first[0] == 70 and len(first[1]["member"]) == 5  # the requests do exercise the facets
    # The same documents, counted by hand (``language`` lacks the documents without one).
    languages: dict[str, int] = {}
    for doc in corpus():
        if doc.language:
            languages[doc.language] = languages.get(doc.language, 0) + 1
    expected = sorted(languages.items(), key=lambda vc: (-vc[1], vc[0]))
    assert first[1]["language"] == expected


@pytest.mark.asyncio
async def test_alias_moved_to_an_old_index_behind_the_backend_still_gives_exact_facets(
    pair: tuple[ElasticBackend, ElasticBackend],
) -> None:
    new, old = pair
    expected = facets_of(await results(old))
    # Another process points the alias of ``new`` at an index built without the field.
    name = f"{new.alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
    await new.client.indices.create(index=name, body=old_index_body())
    await new.bulk(corpus(), index=name)
    await new.client.indices.refresh(index=name)
    live = await new.live_index()
    await new.client.indices.update_aliases(
        body={
            "actions": [
                {"remove": {"index": live, "alias": new.alias}},
                {"add": {"index": name, "alias": new.alias}},
            ]
        }
    )
    assert facets_of(await results(new)) == expected


@pytest.mark.asyncio
async def test_more_combinations_than_buckets_falls_back_to_exact_facets(
    pair: tuple[ElasticBackend, ElasticBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    new, old = pair
    expected = facets_of(await results(old))
    monkeypatch.setattr(plan, "TUPLE_BUCKETS", 3)
    assert facets_of(await results(new)) == expected

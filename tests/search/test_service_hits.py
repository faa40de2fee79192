"""The service builds hits without validating them a second time: they must be what validation builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.search import Hit, SearchRequest, SearchResponse
from search.service import SearchService
from search.tantivy_index import TantivyBackend

from .corpus import CORPUS

QUERIES = ["", "thư viện", "thu vien", "comput*", "author:nguyen", "python OR algorithms", "year:2015.."]


@pytest.mark.asyncio
async def test_hits_equal_validated_hits(tmp_path: Path) -> None:
    backend = TantivyBackend(tmp_path / "tantivy")
    await backend.open()
    try:
        await backend.bulk(CORPUS)
        await backend.refresh()
        service = SearchService(backend)
        seen = 0
        for q in QUERIES:
            for sort in ("relevance", "year_desc", "title"):
                response = await service.search(SearchRequest.from_params(q, sort=sort, size=20))
                # the JSON a client gets is that of a response validated from scratch
                again = SearchResponse.model_validate_json(response.model_dump_json())
                assert again == response
                assert again.model_dump_json() == response.model_dump_json()
                for hit in response.hits:
                    assert hit.model_fields_set == set(Hit.model_fields)  # exclude_unset keeps every field
                    assert type(hit.score) is (float if sort == "relevance" else type(None))
                seen += len(response.hits)
        assert seen > 0
    finally:
        await backend.close()

"""Equal scores across page boundaries: every backend pages a group of ties in id order, each once."""

from __future__ import annotations

import pytest

from schemas.search import SearchRequest
from search.backend import SearchBackend
from search.service import SearchService
from tests.search.support import make_doc

pytestmark = pytest.mark.asyncio


async def test_a_group_of_equal_scores_is_paged_in_id_order(backend: SearchBackend) -> None:
    # one title outscores the rest; eleven identical titles tie, and pages of 3 cut the group twice
    ids = ["w1", *(f"w{n}" for n in (125, 204, 21, 42, 78, 9, 300, 31, 55, 6, 77))]
    docs = [make_doc("w1", "Thư viện số Thư viện số")] + [make_doc(i, "Thư viện số") for i in ids[1:]]
    await backend.bulk(docs)
    await backend.refresh()
    service = SearchService(backend)
    seen: list[str] = []
    for page in range(1, 6):
        request = SearchRequest(q='title:"thư viện"', size=3, page=page, facets=[], correct=False)
        seen += [hit.work_id for hit in (await service.search(request)).hits]
    assert seen[0] == "w1"
    assert seen[1:] == sorted(ids[1:]), "ties must come in id order, each once"

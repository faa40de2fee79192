"""Equal scores across page boundaries: every backend pages a group of ties in id order, each once."""

from __future__ import annotations

import pytest

from schemas.search import IndexDocument, SearchRequest
from search.backend import SearchBackend
from search.service import SearchService
from tests.search.support import make_doc

pytestmark = pytest.mark.asyncio


async def _by_page(
    backend: SearchBackend, docs: list[IndexDocument], q: str, size: int, pages: int
) -> list[str]:
    """Index ``docs``, then the work ids of ``q``'s first ``pages`` pages of ``size``, in order."""
    await backend.bulk(docs)
    await backend.refresh()
    service = SearchService(backend)
    seen: list[str] = []
    for page in range(1, pages + 1):
        request = SearchRequest(q=q, size=size, page=page, facets=[], correct=False)
        seen += [hit.work_id for hit in (await service.search(request)).hits]
    return seen


async def test_a_group_of_equal_scores_is_paged_in_id_order(backend: SearchBackend) -> None:
    # one title outscores the rest; eleven identical titles tie, and pages of 3 cut the group twice
    ids = ["w1", *(f"w{n}" for n in (125, 204, 21, 42, 78, 9, 300, 31, 55, 6, 77))]
    docs = [make_doc("w1", "Thư viện số Thư viện số")] + [make_doc(i, "Thư viện số") for i in ids[1:]]
    seen = await _by_page(backend, docs, 'title:"thư viện"', size=3, pages=5)
    assert seen[0] == "w1"
    assert seen[1:] == sorted(ids[1:]), "ties must come in id order, each once"


async def test_groups_of_a_prefix_query_are_paged_in_id_order(backend: SearchBackend) -> None:
    # A prefix scores a constant per field it matches in: every match of a tier ties. Four tiers of
    # five (exact title, exact author, folded title, folded subject), paged by 3 and by cursor.
    tiers = [
        ("Thư viện số", {}),
        ("Sổ tay", {"authors": ["Thư, Lê"]}),
        ("Thu vien so", {}),
        ("Sổ tay", {"subjects": ["Thuế"]}),
    ]
    numbers = [[17, 3, 250, 41, 9], [8, 120, 33, 5, 71], [2, 64, 15, 300, 27], [99, 1, 46, 12, 230]]
    expected: list[str] = []
    docs = []
    for (title, extra), tier in zip(tiers, numbers, strict=True):
        ids = [f"w{n}" for n in tier]
        docs += [make_doc(i, title, **extra) for i in ids]  # type: ignore[arg-type]
        expected += sorted(ids)
    docs.append(make_doc("w500", "Sách khác"))  # no match
    paged = await _by_page(backend, docs, "thư*", size=3, pages=8)
    assert paged == expected, "each tier in id order, the tiers by score, each match once"
    service = SearchService(backend)
    by_cursor: list[str] = []
    cursor = None
    while True:
        request = SearchRequest(q="thư*", size=4, cursor=cursor, facets=[], correct=False)
        answer = await service.search(request)
        by_cursor += [hit.work_id for hit in answer.hits]
        if answer.next_cursor is None:
            break
        cursor = answer.next_cursor
    assert by_cursor == expected

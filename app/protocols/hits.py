"""The one place the protocols read search hits: the works of a result page, in rank order, and a
page of works at any position (SRU's ``startRecord``/``maximumRecords``). Each search hit is a work
(its ``work_id``); whoever changes the hit's shape adjusts this module and nothing else in
``app/protocols``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from schemas.search import Hit, SearchResponse
from store.front import RecordStore

#: A search page: (page number from 1, page size) -> the response
Fetch = Callable[[int, int], Awaitable[SearchResponse]]


async def work_ids_of(response: SearchResponse, store: RecordStore) -> list[str]:
    """The distinct works of a result page's hits, in the hits' order."""
    return list(dict.fromkeys(hit.work_id for hit in response.hits))


async def page_of_works(fetch: Fetch, store: RecordStore, start: int, maximum: int) -> tuple[int, list[str]]:
    """How many works match and the works at positions ``start`` (from 1) to ``start + maximum - 1``:
    the one or two search pages of size ``maximum`` covering the positions."""
    size = max(maximum, 1)
    first, offset = divmod(start - 1, size)
    hits: list[Hit] = []
    response = await fetch(first + 1, size)
    hits.extend(response.hits)
    if offset and len(response.hits) == size:
        hits.extend((await fetch(first + 2, size)).hits)
    if maximum == 0:
        return response.total, []
    window = response.model_copy(update={"hits": hits[offset : offset + size]})
    return response.total, await work_ids_of(window, store)

"""The one place the protocols read search hits: the works of a result page, in rank order, and a
page of works at any position (SRU's ``startRecord``/``maximumRecords``).

Search hits are turning into works (each hit carrying its ``work_id``, one hit per work); until every
backend answers that way, a hit without one is a record, its work comes from the store, and a page of
works is gathered by reading the hits in rank order and keeping each work's first. Whoever changes the
hit's shape adjusts this module and nothing else in ``app/protocols``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from schemas.errors import NotFound
from schemas.search import Hit, SearchResponse
from store.front import RecordStore

#: A search page: (page number from 1, page size) -> the response
Fetch = Callable[[int, int], Awaitable[SearchResponse]]

HITS_ARE_WORKS = "work_id" in Hit.model_fields
_SCAN_PAGE = 100  # the search service's largest page
_SCAN_LIMIT = 10_000  # the deepest hit a search answers without a cursor


async def work_ids_of(response: SearchResponse, store: RecordStore) -> list[str]:
    """The distinct works of a result page's hits, in the hits' order."""
    found: dict[str, None] = {}
    for hit in response.hits:
        work_id = getattr(hit, "work_id", None)
        if work_id is None:
            try:
                work_id = await store.work_of(hit.id)
            except NotFound:  # the record went between the index and the store
                continue
        if work_id is not None:
            found.setdefault(str(work_id), None)
    return list(found)


async def page_of_works(fetch: Fetch, store: RecordStore, start: int, maximum: int) -> tuple[int, list[str]]:
    """How many works match (as far as known) and the works at positions ``start`` (from 1) to
    ``start + maximum - 1``."""
    if HITS_ARE_WORKS:
        return await _work_page(fetch, store, start, maximum)
    return await _record_scan(fetch, store, start, maximum)


async def _work_page(fetch: Fetch, store: RecordStore, start: int, maximum: int) -> tuple[int, list[str]]:
    """Hits that are works: the one or two search pages of size ``maximum`` covering the positions."""
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


async def _record_scan(fetch: Fetch, store: RecordStore, start: int, maximum: int) -> tuple[int, list[str]]:
    """Hits that are records: read them in rank order until the page of works is complete. The count
    is the number of records matching, until the scan reaches the last hit and can count works."""
    wanted = start - 1 + maximum
    size = min(_SCAN_PAGE, max(10, 2 * wanted))  # a few more hits than works: copies share a work
    seen: dict[str, None] = {}
    page, read = 1, 0
    while True:
        response = await fetch(page, size)  # the service may cap the size: pages stay contiguous
        total = response.total
        read += len(response.hits)
        for work_id in await work_ids_of(response, store):
            seen.setdefault(work_id, None)
        if read >= total:
            total = len(seen)  # every hit read: the works are counted
        if len(seen) >= wanted or not response.hits or read >= min(response.total, _SCAN_LIMIT):
            break
        page += 1
    return total, list(seen)[start - 1 : wanted]

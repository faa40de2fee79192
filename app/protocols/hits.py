"""The one place the protocols read search hits: the works of a result page, in rank order.

Search hits are turning into works (each hit carrying its ``work_id``); until every backend answers
that way, a hit without one is a record, and its work comes from the store. Whoever changes the hit's
shape adjusts this function and nothing else in ``app/protocols``.
"""

from __future__ import annotations

from schemas.errors import NotFound
from schemas.search import SearchResponse
from store.front import RecordStore


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

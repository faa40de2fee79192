"""Exports of a result page (``GET /search?format=``): one entry per work of the page asked (the same
query, filters, sort, page or cursor and size as the JSON answer), each written as the work's own
export (``work.py``: the fullest record, an 852 per holder in MARC), joined as the format joins
several documents (a MARC ``collection``, concatenated RIS/BibTeX/ISO 2709 records, one CSL-JSON list).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import Request, Response

from schemas.search import SearchRequest
from store.front import RecordStore

from ...deps import get_context
from ..hits import work_ids_of
from ..works import members_by_code, works_records
from .formats import ALLOWED, choose_format
from .http import EXPORT_CONTENT
from .work import work_export

if TYPE_CHECKING:
    from search.service import SearchService

#: What the OpenAPI document says ``GET /search`` answers with 200.
SEARCH_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The result page as JSON (default), or its works in the export that ?format= "
        f"or Accept asked for ({', '.join(ALLOWED[1:])}): one entry per work of the page",
        "content": copy.deepcopy(EXPORT_CONTENT),
    },
}


async def page_export_response(
    request: Request,
    format: str | None,
    search: SearchRequest,
    service: SearchService,
    store: RecordStore,
) -> Response | None:
    """The page's works in the export ``format``/``Accept`` asks for, or ``None`` for the JSON page."""
    chosen = choose_format(format, request.headers.get("accept"))
    if chosen is None:
        return None
    # facets and highlights change nothing of which works are on the page: not computed for an export
    response = await service.search(search.model_copy(update={"facets": [], "highlight": False}))
    work_ids = await work_ids_of(response, store)
    held = await works_records(store, work_ids)
    members = await members_by_code(store)
    public_url = get_context(request).settings.public_url
    # A work whose last record was withdrawn after the index answered (the index follows the store
    # within a second or two) has nothing left to export: it is left out rather than failing the page.
    parts = [
        work_export(chosen, work_id, held[work_id], members, public_url)
        for work_id in work_ids
        if any(not s.deleted for s in held.get(work_id, []))
    ]
    headers = {
        "Content-Disposition": f'inline; filename="search.{chosen.extension}"',
        "Vary": "Accept",
    }
    if response.next_cursor:
        headers["Link"] = f'<{_next_page(request, response.next_cursor)}>; rel="next"'
    return Response(chosen.join(parts), media_type=chosen.content_type, headers=headers)


def _next_page(request: Request, cursor: str) -> str:
    """The same export of the next page: the request's query with ``cursor`` in place of ``page``."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "cursor")]
    return f"{request.url.path}?{urlencode([*kept, ('cursor', cursor)])}"

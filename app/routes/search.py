"""``GET /search`` and ``GET /autocomplete`` over the whole union catalogue."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from schemas.search import SearchResponse

from ..deps import SearchDep, SearchRequestDep, StoreDep
from ..openapi import problems
from ..protocols.exports.http import FormatQuery
from ..protocols.exports.page import SEARCH_EXPORT_RESPONSES, page_export_response

router = APIRouter(tags=["search"])


@router.get(
    "/search",
    response_model=SearchResponse,
    responses={**SEARCH_EXPORT_RESPONSES, **problems(400, 422, 503)},
)
async def search(
    request: SearchRequestDep,
    service: SearchDep,
    http: Request,
    store: StoreDep,
    format: FormatQuery = None,
) -> SearchResponse | Response:
    """Hits, facets and a cursor for the next page; a malformed query is a 400 with its position.
    With ``format``/``Accept``, the page's works as MARCXML, MARC 21, Dublin Core, RIS, BibTeX or
    CSL-JSON instead, one entry per work (``Link: rel="next"`` to the next page's export)."""
    if (exported := await page_export_response(http, format, request, service, store)) is not None:
        return exported
    return await service.search(request)


@router.get("/autocomplete", responses=problems(400, 422, 503))
async def autocomplete(
    service: SearchDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    field: Annotated[
        Literal["title", "author", "subject"] | None,
        Query(description="Complete from titles, author names or subjects only (all three when absent)"),
    ] = None,
    size: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[str]:
    """Completions of what was typed from any word of titles, author names and subjects (diacritics
    optional; exact-diacritic matches first)."""
    return await service.autocomplete(q, field=field, size=size)

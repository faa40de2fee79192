"""``GET /search`` and ``GET /autocomplete`` over the whole union catalogue."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from schemas.search import SearchResponse

from ..deps import SearchDep, SearchRequestDep
from ..openapi import problems

router = APIRouter(tags=["search"])


@router.get("/search", responses=problems(400, 422, 503))
async def search(request: SearchRequestDep, service: SearchDep) -> SearchResponse:
    """Hits, facets and a cursor for the next page; a malformed query is a 400 with its position."""
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

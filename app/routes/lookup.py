"""``GET /lookup``: which members hold an item, by ISBN, ISSN, DOI or title."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from schemas.errors import InvalidInput

from ..catalog import LookupResult, lookup_identifier, lookup_title
from ..deps import ContextDep, StoreDep
from ..openapi import problems

router = APIRouter(tags=["lookup"])


@router.get("/lookup", responses=problems(400, 422, 503))
async def lookup(
    store: StoreDep,
    ctx: ContextDep,
    isbn: Annotated[str | None, Query(max_length=40, description="ISBN-10 or -13, hyphens optional")] = None,
    issn: Annotated[str | None, Query(max_length=20)] = None,
    doi: Annotated[str | None, Query(max_length=300, description="10.x/y, doi:, or a doi.org link")] = None,
    title: Annotated[str | None, Query(max_length=500)] = None,
) -> LookupResult:
    """Members holding the item, each with its record ids, titles and OPAC deep links.

    Give exactly one of ``isbn``, ``issn``, ``doi`` or ``title``: none or several is a 422."""
    given = {k: v for k, v in {"isbn": isbn, "issn": issn, "doi": doi, "title": title}.items() if v}
    if len(given) != 1:
        raise InvalidInput("give exactly one of isbn, issn, doi or title")
    if title:
        return await lookup_title(store, ctx.require_search(), title)
    if isbn:
        return await lookup_identifier(store, "isbn", isbn)
    if issn:
        return await lookup_identifier(store, "issn", issn)
    return await lookup_identifier(store, "doi", doi or "")

"""``GET /lookup``: which works hold an item, by ISBN, ISSN, DOI or exact title, and who holds each."""

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
    title: Annotated[
        str | None, Query(max_length=500, description="Title (+ subtitle); diacritics and case optional")
    ] = None,
    member: Annotated[
        str | None, Query(max_length=40, description="List this member's holdings first (the widget's)")
    ] = None,
) -> LookupResult:
    """The works holding the item, each with ``work_id``, ``title``, ``holdings_count`` and
    ``holdings`` (every member holding it, its records and OPAC deep links). A title answers only
    the works whose folded title equals the asked one.

    Give exactly one of ``isbn``, ``issn``, ``doi`` or ``title``: none or several is a 422."""
    given = {k: v for k, v in {"isbn": isbn, "issn": issn, "doi": doi, "title": title}.items() if v}
    if len(given) != 1:
        raise InvalidInput("give exactly one of isbn, issn, doi or title")
    if title:
        return await lookup_title(store, title, member, ctx.search)
    if isbn:
        return await lookup_identifier(store, "isbn", isbn, member)
    if issn:
        return await lookup_identifier(store, "issn", issn, member)
    return await lookup_identifier(store, "doi", doi or "", member)

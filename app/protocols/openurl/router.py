"""``GET /openurl``: the holdings page of a citation for people, or JSON for a link resolver."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from ...deps import ContextDep, StoreDep
from ...web_support import render
from ..exports.formats import _accepted
from ..get_and_post import parameter
from .citation import parse_openurl
from .resolve import Resolution, resolve

router = APIRouter(tags=["protocols"])


_OPENAPI: dict[str, Any] = {
    "parameters": [
        parameter("url_ver", "Z39.88-2004 for OpenURL 1.0 (absent for 0.1 links)"),
        parameter("rft.isbn", "ISBN-10 or -13 (0.1: isbn)"),
        parameter("rft.issn", "ISSN (0.1: issn); rft.eissn too"),
        parameter("rft_id", "info:doi/10.x/y, info:isbn/…, urn:isbn:… (repeatable; 0.1: id=doi:10.x/y)"),
        parameter("rft.atitle", "Article title (also rft.btitle, rft.title; 0.1: atitle, title)"),
        parameter("rft.jtitle", "Journal title"),
        parameter("rft.au", "An author (or rft.aulast with rft.aufirst)"),
        parameter("rft.date", "Publication date; its year must agree with a title match"),
        parameter("format", "json for JSON whatever Accept says"),
    ]
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The works the citation names and the members holding them: an HTML page, or "
        "JSON with Accept: application/json (an empty works list when nothing matches)",
        "content": {"text/html": {"schema": {"type": "string"}}, "application/json": {}},
    },
    422: {"description": "Nothing to resolve, a wrong url_ver, or an over-long value, as a problem document"},
}


def _wants_json(request: Request) -> bool:
    if request.query_params.get("format") == "json":
        return True
    accepted = [(media, q) for media, q in _accepted(request.headers.get("accept", "")) if q > 0]
    ranked = sorted(accepted, key=lambda entry: -entry[1])  # stable: the header's order breaks ties
    for media, _q in ranked:
        if media in ("application/json", "text/html"):
            return media == "application/json"
    return False


@router.get("/openurl", response_model=Resolution, responses=_RESPONSES, openapi_extra=_OPENAPI)
async def openurl(request: Request, store: StoreDep, ctx: ContextDep) -> Response:
    """OpenURL 1.0 (Z39.88-2004 KEV) and 0.1 resolver: which members hold the cited item.

    Resolves by DOI, ISBN or ISSN, else by title (with the cited author and year checked, so a
    citation never lands on another edition)."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in ("format", "lang")]
    citation = parse_openurl(pairs)
    resolution = await resolve(store, ctx.search, citation)
    if _wants_json(request):
        return JSONResponse(resolution.model_dump(mode="json"), headers={"Vary": "Accept"})
    response = render(request, "openurl.html", {"resolution": resolution, "nav": None})
    response.headers["Vary"] = "Accept, Cookie"
    return response

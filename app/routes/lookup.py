"""``GET /lookup``: which works hold an item, by ISBN, ISSN, DOI or exact title, and who holds each;
``POST /lookup``: who holds each identifier of a batch (``app/protocols/lookup.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from schemas.errors import InvalidInput

from ..catalog import LookupResult, lookup_identifier, lookup_title
from ..deps import ContextDep, StoreDep
from ..errors import UnsupportedMediaType
from ..openapi import problems
from ..protocols.lookup import (
    MAX_IDENTIFIERS,
    BatchLookupRequest,
    BatchLookupResponse,
    TooManyIdentifiers,
    batch_lookup,
    check_size,
    lines_of,
)

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


# ---------------------------------------------------------------------------- POST: a batch

_MAX_BODY = 1_000_000  # 1,000 identifiers of the longest DOI fit many times over
_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": BatchLookupRequest.model_json_schema()},
            "text/plain": {
                "schema": {"type": "string", "description": "One identifier a line"},
                "example": "604-908-641-9\nISSN 1859-3100\ndoi:10.54607/hcmue.2004.562\n",
            },
        },
    }
}
_BATCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {
        "description": f"More than {MAX_IDENTIFIERS} identifiers (or a body over 1 MB), as a problem document"
    },
    415: {"description": "A body neither application/json nor text/plain, as a problem document"},
    422: {"description": 'A JSON body that is not {"identifiers": [strings]}, as a problem document'},
}


@router.post(
    "/lookup", response_model=BatchLookupResponse, openapi_extra=_BATCH_BODY, responses=_BATCH_RESPONSES
)
async def lookup_batch(request: Request, store: StoreDep) -> Response:
    """Who holds each of up to 1,000 identifiers (ISBN-10/13, ISSN, DOI, mixed), in the order asked.

    The body is JSON ``{"identifiers": [...]}`` or text/plain with one identifier a line. Each
    result carries the identifier's kind and stored form and the works holding it, in the holdings
    model of ``/works/{id}``; an invalid identifier gets its own ``error`` and the rest is answered.
    """
    answer = await batch_lookup(store, await _identifiers(request))
    # serialised once here: through the response model, a batch of 1,000 would be validated again
    return Response(answer.model_dump_json(), media_type="application/json")


async def _identifiers(request: Request) -> list[str]:
    if int(request.headers.get("content-length") or 0) > _MAX_BODY:
        raise TooManyIdentifiers(f"a body over {_MAX_BODY} bytes; send at most {MAX_IDENTIFIERS} identifiers")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            raise TooManyIdentifiers(
                f"a body over {_MAX_BODY} bytes; send at most {MAX_IDENTIFIERS} identifiers"
            )
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = bytes(body).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("body: not UTF-8 text") from None
    if media == "text/plain":
        identifiers = lines_of(text)
    elif media in ("application/json", ""):
        try:
            identifiers = BatchLookupRequest.model_validate_json(text).identifiers
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None
    else:
        raise UnsupportedMediaType(f"content-type {media!r}: send application/json or text/plain")
    check_size(identifiers)
    return identifiers

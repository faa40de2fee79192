"""``/sru``: SRU 1.2 and 2.0 (GET, or POST with a form body as SRU 2.0 allows)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from ...deps import ContextDep
from ..get_and_post import add_get_and_post, parameter
from . import diagnostics as d
from .cql import INDEXES, translate
from .diagnostics import SruDiagnostic
from .request import DEFAULT_RECORDS, MAX_RECORDS, SruRequest, read_request
from .retrieve import retrieve
from .xml import Envelope, Schema, diagnostic_response, explain_response, search_retrieve_response

router = APIRouter(tags=["protocols"])

SCHEMAS = [
    Schema(
        "dc",
        "info:srw/schema/1/dc-v1.1",
        "Dublin Core",
        "http://www.loc.gov/standards/sru/recordSchemas/dc-schema.xsd",
    ),
    Schema(
        "marcxml",
        "info:srw/schema/1/marcxml-v1.1",
        "MARC 21 XML",
        "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd",
    ),
]
_MEDIA = {"1.2": "text/xml; charset=utf-8", "2.0": "application/sru+xml; charset=utf-8"}
_ACCEPTED = {"text/xml", "application/xml", "application/sru+xml"}


_PARAMETERS = [
    parameter(
        "operation",
        "SRU 1.x: explain (default without a query) or searchRetrieve",
        type="string",
        enum=["explain", "searchRetrieve"],
    ),
    parameter(
        "version",
        "1.1, 1.2 or 2.0 (default: 1.2 when operation is given, else 2.0)",
        type="string",
        enum=["1.1", "1.2", "2.0"],
    ),
    parameter("query", 'CQL, e.g. dc.title = "thư viện số" and dc.date >= 2015'),
    parameter("startRecord", "Position of the first record (from 1)", type="integer", minimum=1),
    parameter(
        "maximumRecords",
        f"Records per page (default {DEFAULT_RECORDS}, at most {MAX_RECORDS})",
        type="integer",
        minimum=0,
    ),
    parameter("recordSchema", "dc (default) or marcxml, by name or identifier"),
    parameter("recordPacking", "SRU 1.2: xml (default) or string"),
    parameter("recordXMLEscaping", "SRU 2.0: xml (default) or string"),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An SRU explainResponse (ZeeRex) or searchRetrieveResponse: SRU 1.2's namespace as "
        "text/xml, SRU 2.0's as application/sru+xml. Errors are SRU diagnostics "
        "(info:srw/diagnostic/1/N: 7 missing query, 10 query syntax, 16 unsupported index, 19 unsupported "
        "relation, 61 first record out of range, 66 unknown schema, 6 bad parameter value...) inside a "
        "200 answer, as SRU prescribes.",
        "content": {
            "text/xml": {"schema": {"type": "string"}},
            "application/sru+xml": {"schema": {"type": "string"}},
        },
    }
}


async def sru(request: Request, ctx: ContextDep) -> Response:
    """SRU 1.2 and 2.0: ``explain`` and ``searchRetrieve`` with CQL, one record per work, Dublin Core
    or MARCXML, diagnostics as the standard's URIs."""
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        form = (await request.body()).decode("utf-8", errors="replace")
        pairs += parse_qsl(form, keep_blank_values=True)
    sru_request, diagnostic = read_request(pairs)
    env = Envelope(sru_request.version)
    media = _media(env, dict(pairs).get("httpAccept"))
    if diagnostic is not None:
        body = diagnostic_response(env, sru_request.operation, diagnostic, sru_request.echo())
        return Response(body, media_type=media)
    base_url = ctx.settings.public_url.rstrip("/") + "/sru"
    if sru_request.operation == "explain":
        body = explain_response(
            env,
            base_url,
            "Lienhop: union catalogue of the Vietnam Library Consortium on S&T information",
            "The records of the consortium's member libraries, one record per work (edition) held.",
            INDEXES,
            SCHEMAS,
            DEFAULT_RECORDS,
            MAX_RECORDS,
            sru_request.packing,
        )
        return Response(body, media_type=media)
    return Response(await _search_retrieve(sru_request, env, ctx), media_type=media)


async def _search_retrieve(sru_request: SruRequest, env: Envelope, ctx: Any) -> bytes:
    try:
        translation = translate(sru_request.query)
        search = ctx.search
        if search is None and not translation.ids:
            raise SruDiagnostic(d.GENERAL, None, ctx.search_error or "the search index is not open")
        total, records = await retrieve(sru_request, translation, ctx.store, search, ctx.settings.public_url)
    except SruDiagnostic as diagnostic:
        return diagnostic_response(env, "searchRetrieve", diagnostic, sru_request.echo())
    return search_retrieve_response(
        env, total, records, sru_request.start, sru_request.packing, sru_request.echo()
    )


def _media(env: Envelope, http_accept: str | None) -> str:
    if http_accept in _ACCEPTED:
        return f"{http_accept}; charset=utf-8"
    return _MEDIA[env.version if env.version == "2.0" else "1.2"]


add_get_and_post(
    router,
    "/sru",
    sru,
    responses=_RESPONSES,
    parameters=_PARAMETERS,
    summary="SRU 1.2 and 2.0 searchRetrieve and explain",
)

"""Answering ``GET /records/{id}`` in an export format when ``?format=`` or ``Accept`` asks for one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from schemas.errors import NotFound
from store.front import RecordStore
from store.records import StoredRecord

from ...deps import get_context
from .formats import ALLOWED, EXPORTS, choose_format, record_links

FormatQuery = Annotated[
    str | None,
    Query(
        description="json (default) or an export: "
        + ", ".join(EXPORTS)
        + ". Without it, an Accept header naming an export's media type picks it.",
    ),
]

#: The media types an endpoint with exports answers: its JSON (the route's model), or an export.
EXPORT_CONTENT: dict[str, Any] = {
    "application/json": {},
    **{f.media_type: {"schema": {"type": "string"}} for f in EXPORTS.values()},
}
# What the OpenAPI document says the endpoint answers, besides the JSON record.
EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The record as JSON (default), or in the export that ?format= or Accept asked for",
        "content": EXPORT_CONTENT,
    },
    404: {"description": "No such record (or, for an export, a record its member withdrew)"},
    422: {"description": f"Unknown format (allowed: {', '.join(ALLOWED)}), as a problem document"},
}


async def export_response(
    request: Request, format: str | None, stored: StoredRecord, store: RecordStore
) -> Response | None:
    """The export ``format``/``Accept`` asks for, or ``None`` when the JSON record is wanted."""
    chosen = choose_format(format, request.headers.get("accept"))
    if chosen is None:
        return None
    if stored.deleted:
        raise NotFound(f"record {stored.id!r} was withdrawn by its member: there is nothing to export")
    member = await store.get_member(stored.record.member)
    links = record_links(get_context(request).settings.public_url, member, stored.record)
    return Response(
        chosen.write(stored.record, links),
        media_type=chosen.content_type,
        headers={
            "Content-Disposition": f'inline; filename="{stored.id}.{chosen.extension}"',
            "Vary": "Accept",
        },
    )

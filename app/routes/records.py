"""``GET /records/{id}``: one normalised record, its member, OPAC link and the other holders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ..catalog import opac_link, other_holders
from ..deps import StoreDep
from ..openapi import problems
from ..protocols.exports.http import EXPORT_RESPONSES, FormatQuery, export_response

router = APIRouter(prefix="/records", tags=["records"])

_RAW_TYPES = {"oai_dc": "application/xml", "marcxml": "application/xml", "marc21": "application/xml"}


@router.get("/{record_id}", response_model=None, responses=EXPORT_RESPONSES)
async def get_record(
    record_id: str, store: StoreDep, request: Request, format: FormatQuery = None
) -> dict[str, Any] | Response:
    """The record (without its raw metadata), where to find it, and who else holds the same item;
    or the record as MARCXML, MARC 21, Dublin Core, RIS, BibTeX or CSL-JSON (``format``/``Accept``)."""
    stored = await store.get_record(record_id)
    if (exported := await export_response(request, format, stored, store)) is not None:
        return exported
    member = await store.get_member(stored.record.member)
    record = stored.record
    return {
        "id": stored.id,
        "seq": stored.seq,
        "deleted": stored.deleted,
        "work_id": await store.work_of(stored.id),
        "record": record.model_dump(mode="json", exclude={"raw"}),
        "member": {
            "code": member.code,
            "name_vi": member.name_vi,
            "name_en": member.name_en,
            "status": member.status,
        },
        "opac_url": opac_link(member, record),
        "also_held_by": [m.model_dump(mode="json") for m in await other_holders(store, record)],
        "raw_url": f"/records/{stored.id}/raw",
    }


@router.get(
    "/{record_id}/raw",
    response_class=Response,
    responses={
        200: {
            "description": "The metadata exactly as the member sent it: XML for oai_dc and MARCXML",
            "content": {
                "application/xml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        **problems(404),
    },
)
async def get_raw(record_id: str, store: StoreDep) -> Response:
    """The member's metadata as received (oai_dc or MARCXML)."""
    stored = await store.get_record(record_id)
    media = _RAW_TYPES.get(stored.record.raw_format, "text/plain")
    return Response(stored.record.raw, media_type=f"{media}; charset=utf-8")

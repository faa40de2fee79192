"""``GET /records/{id}``: one normalised record, its member, OPAC link and the other holders."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ..catalog import opac_link, other_holders
from ..deps import StoreDep

router = APIRouter(prefix="/records", tags=["records"])

_RAW_TYPES = {"oai_dc": "application/xml", "marcxml": "application/xml", "marc21": "application/xml"}


@router.get("/{record_id}")
async def get_record(record_id: str, store: StoreDep) -> dict[str, Any]:
    """The record (without its raw metadata), where to find it, and who else holds the same item."""
    stored = await store.get_record(record_id)
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


@router.get("/{record_id}/raw")
async def get_raw(record_id: str, store: StoreDep) -> Response:
    """The member's metadata as received (oai_dc or MARCXML)."""
    stored = await store.get_record(record_id)
    media = _RAW_TYPES.get(stored.record.raw_format, "text/plain")
    return Response(stored.record.raw, media_type=f"{media}; charset=utf-8")

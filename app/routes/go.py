"""``GET /go/{record_id}``: a holding's link-out. Counted as a request (``app/usage_events.py``), then
redirected to the holding member's OPAC; 404 when the member gives no OPAC link for the record.

Pages and the widget link through here (``?member=CODE`` names the member whose page or widget it
is); the API's ``opac_url`` stays the OPAC's own address.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import RedirectResponse

from schemas.errors import NotFound

from ..catalog import opac_link
from ..deps import StoreDep

router = APIRouter(tags=["usage"])


@router.get(
    "/go/{record_id}",
    status_code=status.HTTP_302_FOUND,
    responses={302: {"description": "To the member's OPAC"}, 404: {"description": "No OPAC link"}},
)
async def go(
    record_id: str,
    store: StoreDep,
    member: Annotated[str | None, Query(description="The member whose page or widget links here")] = None,
) -> RedirectResponse:
    """Count the click and send the browser to the holding member's OPAC record."""
    stored = await store.get_record(record_id)
    holder = await store.get_member(stored.record.member)
    link = None if stored.deleted else opac_link(holder, stored.record)
    if link is None:
        raise NotFound(f"{holder.code} gives no catalogue link for record {record_id}")
    return RedirectResponse(link, status_code=status.HTTP_302_FOUND)

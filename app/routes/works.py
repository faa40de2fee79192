"""``GET /works/{id}``: a work, who holds it and why its records are one; the curators' corrections.

A work merged into another answers 301 to the surviving id. The admin endpoints split a record off
its work, join two works and remove either decision; they need an admin key (see app/auth.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from schemas.errors import WorkMoved
from schemas.work import JoinRequest, SplitRequest, WorkDetail, WorkOverride

from ..deps import StoreDep, require_admin_scope
from ..holdings import members_by_code, work_detail
from ..openapi import problems
from ..protocols.exports.http import EXPORT_RESPONSES, FormatQuery
from ..protocols.exports.work import work_export_response

router = APIRouter(tags=["works"])
# Splitting and joining works changes every member's view of them: admin keys only.
admin = APIRouter(prefix="/admin/works", tags=["admin"], dependencies=[Depends(require_admin_scope)])


@router.get(
    "/works/{work_id}",
    response_model=WorkDetail,
    responses={**EXPORT_RESPONSES, 301: {"description": "Merged: see Location"}, **problems(404)},
)
async def get_work(
    work_id: str,
    request: Request,
    store: StoreDep,
    member: Annotated[str | None, Query(description="List this member's holdings first")] = None,
    format: FormatQuery = None,
) -> Response | WorkDetail:
    """The work's holdings (distinct members, each record with its OPAC link) and every record with
    its identifiers and what joined it to the work (``isbn:<v>``, ``doi:<v>``, ``issn:<v>``,
    ``title``, ``curator``)."""
    try:
        state = await store.get_work(work_id)
    except WorkMoved as moved:
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(
            f"/works/{moved.new_id}{query}", status_code=status.HTTP_301_MOVED_PERMANENTLY
        )
    members = await members_by_code(store)
    if (
        exported := await work_export_response(request, format, state.work_id, state.records, members)
    ) is not None:
        return exported  # the fullest record with every holder (app/protocols/exports/work.py)
    return work_detail(state, members, member)


@admin.post("/split", status_code=status.HTTP_201_CREATED, responses=problems(404))
async def split_record(body: SplitRequest, store: StoreDep) -> WorkOverride:
    """Keep a record apart from every other record; it stays apart through re-clustering."""
    return await store.split_record(body.record_id)


@admin.post("/join", status_code=status.HTTP_201_CREATED, responses=problems(404, 422))
async def join_works(body: JoinRequest, store: StoreDep) -> WorkOverride:
    """Make two works one (the older id stays; the other redirects to it)."""
    return await store.join_works(body.work_ids[0], body.work_ids[1])


@admin.delete("/overrides/{override_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problems(404))
async def remove_override(override_id: int, store: StoreDep) -> Response:
    """Forget a split or a join; the records it named are clustered by their identifiers again."""
    await store.remove_override(override_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


router.include_router(admin)

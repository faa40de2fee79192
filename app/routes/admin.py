"""Admin endpoints: register members, start harvest, import and reindex jobs, watch their progress.

All of them need ``Authorization: Bearer <admin_token>`` when ``admin_token`` is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel

from harvesters.probe import check_member
from schemas.member import Member, MemberCreate, MemberUpdate
from schemas.probe import ProbeReport

from .. import operations
from ..catalog import MemberUpdated, update_member
from ..deps import AdminDep, ContextDep, JobsDep, StoreDep
from ..jobs import Job, JobView
from ..openapi import UPLOAD_BODY, problems
from ..uploads import read_upload

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep], responses=problems(401))


class HarvestRequest(BaseModel):
    codes: list[str] | None = None
    full: bool = False
    # after the harvest, tombstone records the repository no longer lists; None: on a full harvest
    # of a repository that does not report every deletion
    reconcile: bool | None = None
    force: bool = False


@router.post("/members", status_code=status.HTTP_201_CREATED, responses=problems(409))
async def create_member(new: MemberCreate, store: StoreDep) -> Member:
    """Register a member; a duplicate code is a 409."""
    return await store.add_member(new)


@router.patch("/members/{code}", responses=problems(404, 409))
async def change_member(
    code: str, changes: MemberUpdate, store: StoreDep, force: bool = False
) -> MemberUpdated:
    """Change a member: only the fields sent change (``null`` clears an optional one).

    Promoting an observer (``"status": "member"``) before its two years of observation is a 409
    unless ``force=true``. A new ``oai_url``, ``metadata_prefix`` or ``sets`` makes the next harvest
    list the whole repository again (``relisted``). An inactive member is no longer harvested; its
    records stay in the catalogue.
    """
    return await update_member(store, code, changes, force=force)


@router.get("/members/{code}/check", responses=problems(404))
async def check_member_endpoint(code: str, ctx: ContextDep) -> ProbeReport:
    """Check a member's OAI-PMH endpoint (Identify, formats, sets, a first page read as the harvest
    reads it); nothing is stored. Each check is ``ok``, ``warn`` or ``fail``."""
    return await check_member(await ctx.store.get_member(code), ctx.settings)


@router.post("/harvest", status_code=status.HTTP_202_ACCEPTED, responses=problems(404))
async def start_harvest(body: HarvestRequest, ctx: ContextDep) -> JobView:
    """Harvest the given members (all active ones by default) in the background."""
    codes = [c.upper() for c in body.codes] if body.codes else None
    if codes:  # unknown codes are a 404 now, not a failed job later
        for code in codes:
            await ctx.store.get_member(code)

    async def work(job: Job) -> Any:
        reports = await operations.harvest(ctx, codes, body.full, job, body.reconcile, body.force)
        return [r.model_dump(mode="json") for r in reports]

    params = {"codes": codes, "full": body.full, "reconcile": body.reconcile, "force": body.force}
    return ctx.jobs.start("harvest", work, params).view()


class RederiveRequest(BaseModel):
    codes: list[str] | None = None


@router.post("/rederive", status_code=status.HTTP_202_ACCEPTED, responses=problems(404))
async def start_rederive(body: RederiveRequest, ctx: ContextDep) -> JobView:
    """Map the stored records of the given members (all by default) again from their kept metadata,
    in the background; only records whose normalised form changed are rewritten and re-indexed."""
    codes = [(await ctx.store.get_member(c)).code for c in body.codes] if body.codes else None

    async def work(job: Job) -> Any:
        reports = await operations.rederive(ctx, codes, job)
        return [r.model_dump(mode="json") for r in reports]

    return ctx.jobs.start("rederive", work, {"codes": codes}).view()


@router.post("/reindex", status_code=status.HTTP_202_ACCEPTED, responses=problems(503))
async def start_reindex(ctx: ContextDep) -> JobView:
    """Rebuild the search index into a new index and swap it in; searches go on meanwhile."""
    ctx.require_search()

    async def work(job: Job) -> Any:
        return await operations.reindex(ctx, job)

    return ctx.jobs.start("reindex", work).view()


@router.post(
    "/import/{code}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(404, 422),
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def start_import(code: str, request: Request, ctx: ContextDep) -> JobView:
    """Import an uploaded MARC file (ISO 2709 or MARCXML; multipart ``file`` or the raw body)."""
    member = await ctx.store.get_member(code)
    path: Path = await read_upload(request, ctx.settings.home / "uploads", ctx.settings.max_response_bytes)

    async def work(job: Job) -> Any:
        try:
            report = await operations.import_file(ctx, member.code, path, job)
        finally:
            path.unlink(missing_ok=True)
        return report.model_dump(mode="json")

    return ctx.jobs.start("import", work, {"member": member.code, "file": path.name}).view()


@router.get("/jobs")
async def list_jobs(jobs: JobsDep) -> list[JobView]:
    """Every job of this server process, newest first."""
    return [job.view() for job in jobs.list()]


@router.get("/jobs/{job_id}", responses=problems(404))
async def get_job(job_id: str, jobs: JobsDep) -> JobView:
    """One job's state and per-task progress (done/total)."""
    return jobs.get(job_id).view()

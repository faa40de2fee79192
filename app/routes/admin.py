"""Admin endpoints: register members, start harvest, import and reindex jobs, watch their progress,
read the audit log.

Credentials come from the ``Authorization: Bearer`` header only (an admin or curator key, or the
bootstrap ``LIENHOP_ADMIN_TOKEN``); with no admin key configured, loopback clients act as admin (see
:mod:`app.auth`). A curator key acts for its own member only: harvest, import, checks and jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel

from harvesters.outbound import check_member_url
from harvesters.probe import check_member
from schemas.auth import AuditEntry
from schemas.errors import NotFound
from schemas.member import Member, MemberCreate, MemberUpdate
from schemas.probe import ProbeReport

from .. import operations
from ..catalog import MemberUpdated, update_member
from ..deps import AdminDep, AdminOnlyDep, ContextDep, JobsDep, PrincipalDep, StoreDep, require_member
from ..jobs import Job, JobView
from ..openapi import UPLOAD_BODY, problems
from ..uploads import save_upload

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminDep], responses=problems(401))


class HarvestRequest(BaseModel):
    codes: list[str] | None = None
    full: bool = False
    # after the harvest, tombstone records the repository no longer lists; None: on a full harvest
    # of a repository that does not report every deletion
    reconcile: bool | None = None
    force: bool = False


@router.post("/members", status_code=status.HTTP_201_CREATED, responses=problems(409, 422))
async def create_member(new: MemberCreate, ctx: ContextDep, _admin: AdminOnlyDep) -> Member:
    """Register a member; a duplicate code is a 409, an ``oai_url`` the harvester may not reach
    (not http(s), or a host that is not public, see ``LIENHOP_HARVEST_ALLOW_NETWORKS``) a 422."""
    await check_member_url(new.oai_url, ctx.settings)
    return await ctx.store.add_member(new)


@router.patch("/members/{code}", responses=problems(404, 409))
async def change_member(
    code: str, changes: MemberUpdate, ctx: ContextDep, _admin: AdminOnlyDep, force: bool = False
) -> MemberUpdated:
    """Change a member: only the fields sent change (``null`` clears an optional one).

    Promoting an observer (``"status": "member"``) before its two years of observation is a 409
    unless ``force=true``. A new ``oai_url``, ``metadata_prefix`` or ``sets`` makes the next harvest
    list the whole repository again (``relisted``). An inactive member is no longer harvested; its
    records stay in the catalogue. An ``oai_url`` the harvester may not reach is a 422.
    """
    await check_member_url(changes.oai_url, ctx.settings)
    return await update_member(ctx.store, code, changes, force=force)


@router.get("/members/{code}/check", responses=problems(404))
async def check_member_endpoint(code: str, ctx: ContextDep, principal: PrincipalDep) -> ProbeReport:
    """Check a member's OAI-PMH endpoint (Identify, formats, sets, a first page read as the harvest
    reads it); nothing is stored. Each check is ``ok``, ``warn`` or ``fail``."""
    require_member(principal, code)
    return await check_member(await ctx.store.get_member(code), ctx.settings)


@router.post("/harvest", status_code=status.HTTP_202_ACCEPTED, responses=problems(404))
async def start_harvest(body: HarvestRequest, ctx: ContextDep, principal: PrincipalDep) -> JobView:
    """Harvest the given members (all active ones by default; a curator's own member) in the background."""
    codes = [c.upper() for c in body.codes] if body.codes else None
    if principal.scope != "admin":
        codes = codes or [principal.member or ""]
        for code in codes:
            require_member(principal, code)
    if codes:  # unknown codes are a 404 now, not a failed job later
        for code in codes:
            await ctx.store.get_member(code)

    async def work(job: Job) -> Any:
        reports = await operations.harvest(ctx, codes, body.full, job, body.reconcile, body.force)
        return [r.model_dump(mode="json") for r in reports]

    params = {"codes": codes, "full": body.full, "reconcile": body.reconcile, "force": body.force}
    member = codes[0] if codes and len(codes) == 1 else None
    return await ctx.jobs.start("harvest", work, params, member=member, who=principal.who)


class RederiveRequest(BaseModel):
    codes: list[str] | None = None


@router.post("/rederive", status_code=status.HTTP_202_ACCEPTED, responses=problems(404))
async def start_rederive(body: RederiveRequest, ctx: ContextDep, admin: AdminOnlyDep) -> JobView:
    """Map the stored records of the given members (all by default) again from their kept metadata,
    in the background; only records whose normalised form changed are rewritten and re-indexed."""
    codes = [(await ctx.store.get_member(c)).code for c in body.codes] if body.codes else None

    async def work(job: Job) -> Any:
        reports = await operations.rederive(ctx, codes, job)
        return [r.model_dump(mode="json") for r in reports]

    return await ctx.jobs.start("rederive", work, {"codes": codes}, who=admin.who)


@router.post("/reindex", status_code=status.HTTP_202_ACCEPTED, responses=problems(503))
async def start_reindex(ctx: ContextDep, admin: AdminOnlyDep) -> JobView:
    """Rebuild the search index into a new index and swap it in; searches go on meanwhile.

    One reindex at a time: asked while one is waiting or running, this answers that job."""
    ctx.require_search()

    async def work(job: Job) -> Any:
        return await operations.reindex(ctx, job)

    return await ctx.jobs.start("reindex", work, who=admin.who)


@router.post(
    "/import/{code}",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problems(404, 422),
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def start_import(code: str, request: Request, ctx: ContextDep, principal: PrincipalDep) -> JobView:
    """Import an uploaded MARC file (ISO 2709 or MARCXML; multipart ``file`` or the raw body).

    The upload is streamed to a file in the data folder; the import reads it off the event loop."""
    require_member(principal, code)
    member = await ctx.store.get_member(code)
    await ctx.jobs.check_room("import")  # a full queue refuses before the file is received
    path: Path = await save_upload(request, ctx.settings.home / "uploads", ctx.settings.max_upload_bytes)

    async def work(job: Job) -> Any:
        try:
            report = await operations.import_file(ctx, member.code, path, job)
        finally:
            path.unlink(missing_ok=True)
        return report.model_dump(mode="json")

    params = {"member": member.code, "file": path.name}
    try:
        return await ctx.jobs.start("import", work, params, member=member.code, who=principal.who)
    except BaseException:
        path.unlink(missing_ok=True)  # refused (queue full): the upload is not kept
        raise


@router.get("/jobs")
async def list_jobs(jobs: JobsDep, principal: PrincipalDep) -> list[JobView]:
    """Jobs of every server process, newest first (a curator's: those of its member)."""
    return await jobs.list(member=None if principal.scope == "admin" else principal.member or "")


@router.get("/jobs/{job_id}", responses=problems(404))
async def get_job(job_id: str, jobs: JobsDep, principal: PrincipalDep) -> JobView:
    """One job's state and per-task progress (done/total)."""
    job = await jobs.get(job_id)
    if principal.scope != "admin" and job.member != principal.member:
        raise NotFound(f"no job {job_id!r}")  # another member's jobs are not even named
    return job


@router.get("/audit")
async def audit_log(
    store: StoreDep,
    _admin: AdminOnlyDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, description="Entries older than this id")] = None,
) -> list[AuditEntry]:
    """Admin actions, newest first: who (key id and label, ``bootstrap`` or ``loopback``), what, when,
    the outcome (``ok``, ``refused``, ``failed``) and the HTTP status."""
    return await store.list_audit(limit, before)

"""The COUNTER_SUSHI R5 API of Lienhop's own usage: ``/sushi/r5/status``, ``/members``, ``/reports``,
``/reports/pr`` and ``/reports/pr_p1`` (the Platform Report and its Platform Usage view, one customer
per member: ``customer_id`` is the member's code).

COUNTER's ``api_key`` query parameter authorises: the admin token for now (any key when no admin token
is set, like the admin endpoints). :func:`allowed_customers` is the one place that decides, so per-member
keys can answer for their own member only. Errors are SUSHI exceptions, not problem+json: a SUSHI
client reads ``Code``/``Message``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from schemas.errors import NotFound
from usage.own import monthly_counts
from usage.platform import (
    CREATED_BY,
    SushiRefusal,
    check_request,
    platform_report,
    report_list,
)

from ..auth import Authenticator
from ..context import AppContext
from ..deps import ContextDep
from ..errors import Unauthorized

router = APIRouter(prefix="/sushi/r5", tags=["sushi"])
BASE = "/sushi/r5"


async def allowed_customers(request: Request, ctx: AppContext) -> set[str] | None:
    """The customers (member codes) the request may read: None for all. COUNTER's ``api_key`` is an
    API key of Lienhop (an admin key reads every member, a curator or client key its own member) or
    the bootstrap token; without one the reports are open only while no admin key exists (a
    development set-up). Raises 2000 when the key is missing, 2020 when it is not valid."""
    given = request.query_params.get("api_key", "")
    if not given:
        locked = bool(ctx.settings.admin_token) or await ctx.store.has_admin_key(datetime.now(UTC).date())
        if locked:
            raise SushiRefusal(2000, "api_key is required")
        return None
    auth: Authenticator = request.app.state.auth
    try:
        principal = await auth.from_key(given)
    except Unauthorized:
        raise SushiRefusal(2020, "api_key is not valid") from None
    if principal.scope == "admin":
        return None
    return {principal.member} if principal.member else set()


def _refused(refusal: SushiRefusal) -> JSONResponse:
    return JSONResponse(refusal.body, status_code=refusal.status)


@router.get("/status")
async def status(request: Request, ctx: ContextDep) -> Any:
    """Whether the service is active (COUNTER's ``/status``)."""
    try:
        await allowed_customers(request, ctx)
    except SushiRefusal as refusal:
        return _refused(refusal)
    return [
        {
            "Description": f"COUNTER R5 usage of the {CREATED_BY} union catalogue",
            "Service_Active": True,
            "Note": "Reports PR and PR_P1; customer_id is the member's code; a month is reported once over",
        }
    ]


@router.get("/members")
async def consortium_members(request: Request, ctx: ContextDep) -> Any:
    """The consortium's members, each a customer of its own (COUNTER's ``/members``)."""
    try:
        allowed = await allowed_customers(request, ctx)
    except SushiRefusal as refusal:
        return _refused(refusal)
    return [
        {"Customer_ID": m.code, "Name": m.name_vi, "Notes": m.name_en or ""}
        for m in await ctx.store.list_members()
        if allowed is None or m.code in allowed
    ]


@router.get("/reports")
async def reports(request: Request, ctx: ContextDep) -> Any:
    """The reports this platform serves (COUNTER's ``/reports``)."""
    try:
        await allowed_customers(request, ctx)
    except SushiRefusal as refusal:
        return _refused(refusal)
    return report_list(BASE)


@router.get("/reports/pr")
async def pr(request: Request, ctx: ContextDep) -> Any:
    """The Platform Master Report of one member's use of Lienhop."""
    return await _platform_report("PR", request, ctx)


@router.get("/reports/pr_p1")
async def pr_p1(request: Request, ctx: ContextDep) -> Any:
    """The Platform Usage view (searches and requests) of one member's use of Lienhop."""
    return await _platform_report("PR_P1", request, ctx)


async def _platform_report(report_id: str, request: Request, ctx: ContextDep) -> Any:
    params = dict(request.query_params)
    now = datetime.now(UTC)
    try:
        allowed = await allowed_customers(request, ctx)
        customer = params.get("customer_id", "").strip().upper()
        institution = ""
        if customer:
            if allowed is not None and customer not in allowed:
                raise SushiRefusal(2010, f"customer_id {customer}")
            try:
                institution = (await ctx.store.get_member(customer)).name_vi
            except NotFound:
                raise SushiRefusal(2010, f"no member has the code {customer}") from None
        checked = check_request(report_id, params, institution, now.date())
    except SushiRefusal as refusal:
        return _refused(refusal)
    counts = await monthly_counts(ctx.store.engine, checked.begin, checked.end, checked.customer_id)
    return platform_report(checked, counts.get(checked.customer_id, {}), now)

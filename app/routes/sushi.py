"""The COUNTER_SUSHI R5 API of Lienhop's own usage: ``/sushi/r5/status``, ``/members``, ``/reports``,
``/reports/pr`` and ``/reports/pr_p1`` (the Platform Report and its Platform Usage view, one customer
per member: ``customer_id`` is the member's code).

COUNTER's ``api_key`` query parameter authorises: the admin token for now (any key when no admin token
is set, like the admin endpoints). :func:`allowed_customers` is the one place that decides, so per-member
keys can answer for their own member only. Errors are SUSHI exceptions, not problem+json: a SUSHI
client reads ``Code``/``Message``.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from schemas.errors import NotFound
from schemas.settings import Settings
from usage.own import monthly_counts
from usage.platform import (
    CREATED_BY,
    SushiRefusal,
    check_request,
    platform_report,
    report_list,
)

from ..deps import ContextDep

router = APIRouter(prefix="/sushi/r5", tags=["sushi"])
BASE = "/sushi/r5"


def allowed_customers(request: Request, settings: Settings) -> set[str] | None:
    """The customers (member codes) the request may read: None for all; raises 2000/2020 when the
    ``api_key`` is missing or wrong."""
    token = settings.admin_token
    if not token:
        return None
    given = request.query_params.get("api_key", "")
    if not given:
        raise SushiRefusal(2000, "api_key is required")
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise SushiRefusal(2020, "api_key is not valid")
    return None


def _refused(refusal: SushiRefusal) -> JSONResponse:
    return JSONResponse(refusal.body, status_code=refusal.status)


@router.get("/status")
async def status(request: Request, ctx: ContextDep) -> Any:
    """Whether the service is active (COUNTER's ``/status``)."""
    try:
        allowed_customers(request, ctx.settings)
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
        allowed = allowed_customers(request, ctx.settings)
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
        allowed_customers(request, ctx.settings)
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
        allowed = allowed_customers(request, ctx.settings)
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

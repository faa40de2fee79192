"""The HTML pages: ``GET /`` (search with facets), ``GET /record/{id}`` (holdings) for researchers;
``GET /status`` and ``GET /status/{code}`` (harvest status, runs, quarantined records) for member
librarians and consortium admins."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..catalog import member_status, member_statuses, opac_link, other_holders
from ..deps import SearchRequestDep, StoreDep
from ..web_support import render, run_search

router = APIRouter(include_in_schema=False)

# facet name -> query parameter that filters on it
FACET_PARAMS = {"member": "member", "type": "type", "language": "lang", "subject": "subject", "year": "year"}


def _params(request: Request) -> dict[str, object]:
    """The current query string (repeated keys as lists), without paging."""
    params: dict[str, object] = {}
    for key, value in request.query_params.multi_items():
        if key in {"cursor", "page", "n"}:
            continue
        current = params.get(key)
        if isinstance(current, list):
            current.append(value)
        else:
            params[key] = [current, value] if current else value
    return params


@router.get("/", response_class=HTMLResponse)
async def search_page(request: Request, search: SearchRequestDep, store: StoreDep) -> HTMLResponse:
    """The search box, and, with a query or filters, results with highlights, facets and paging."""
    filtered = any(getattr(search.filters, f) for f in ("member", "type", "language", "subject"))
    filtered = filtered or search.filters.year_from is not None or search.filters.year_to is not None
    result, error = (None, None)
    if search.q or filtered:
        result, error = await run_search(request, search)
    members = {m.code: m for m in await store.list_members()}
    shown = request.query_params.get("n", "1")
    page_number = int(shown) if shown.isdigit() else 1
    return render(
        request,
        "search.html",
        {
            "q": search.q,
            "search": search,
            "result": result,
            "error": error,
            "members": members,
            "params": _params(request),
            "facet_params": FACET_PARAMS,
            "page_number": page_number,
        },
        status_code=400 if error else 200,
    )


@router.get("/record/{record_id}", response_class=HTMLResponse)
async def record_page(request: Request, record_id: str, store: StoreDep) -> HTMLResponse:
    """One record with its member's OPAC link and every other member holding the same item."""
    stored = await store.get_record(record_id)
    member = await store.get_member(stored.record.member)
    return render(
        request,
        "record.html",
        {
            "stored": stored,
            "record": stored.record,
            "member": member,
            "opac_url": opac_link(member, stored.record),
            "others": await other_holders(store, stored.record),
        },
    )


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request, store: StoreDep) -> HTMLResponse:
    """Every member's last harvest, record counts, quarantine and schedule; failures and overdue
    schedules stand out (a schedule that silently stops is what harvest admins report most)."""
    reports = await member_statuses(store)
    failing = sum(1 for r in reports if r.last_harvest is not None and r.last_harvest.ok is False)
    overdue = sum(1 for r in reports if r.harvest_overdue)
    context = {"reports": reports, "failing": failing, "overdue": overdue}
    return render(request, "status.html", context)


@router.get("/status/{code}", response_class=HTMLResponse)
async def member_status_page(request: Request, code: str, store: StoreDep) -> HTMLResponse:
    """One member's harvest and import runs and its quarantined records with their reasons."""
    report = await member_status(store, code)
    context = {
        "report": report,
        "runs": await store.list_runs(report.code, limit=30),
        "quarantined": await store.list_quarantine(report.code, limit=200),
    }
    return render(request, "member_status.html", context)

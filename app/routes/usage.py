"""Admin endpoints for vendor usage: shared databases, costs, SUSHI credentials, harvests, imports, the
usage report (JSON, CSV) and its page (Vietnamese and English, with the monthly chart).

All of them need ``Authorization: Bearer <admin_token>`` when ``admin_token`` is set, like /admin.
Credentials are write-only: answers say ``has_api_key``, never the key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field

from schemas.usage import (
    CredentialsPublic,
    CredentialsSet,
    HarvestOutcome,
    ImportResult,
    Scorecard,
    UsageCost,
    UsageDatabase,
    UsageDatabaseAdd,
    UsageDatabaseCreate,
    UsageReport,
    parse_month,
)
from usage.harvest import UsageHarvest
from usage.importer import import_report
from usage.loading import list_outcomes
from usage.registry import UsageRegistry
from usage.render import LANGUAGES, monthly_chart, report_csv, words
from usage.report import build_report
from usage.scorecard import build_scorecard
from usage.scorecard_render import SHOWN, scorecard_csv
from usage.scorecard_render import STRINGS as SCORECARD_WORDS

from ..deps import ContextDep, StoreDep, require_admin_scope
from ..jobs import Job, JobView
from ..uploads import save_upload
from ..web_support import render

# Shared databases, credentials and the consortium-wide report are the secretariat's: admin keys only.
router = APIRouter(prefix="/admin/usage", tags=["usage"], dependencies=[Depends(require_admin_scope)])


class UsageHarvestRequest(BaseModel):
    databases: list[str] | None = None
    first: str | None = Field(None, alias="from", description="First month, YYYY-MM")
    last: str | None = Field(None, alias="to", description="Last month, YYYY-MM")


@router.post("/databases", status_code=status.HTTP_201_CREATED)
async def add_database(new: UsageDatabaseAdd, store: StoreDep) -> UsageDatabase:
    """Register a shared database (and, optionally, one year's cost); a duplicate code is a 409."""
    database = UsageDatabaseCreate.model_validate(new.model_dump(exclude={"cost"}))
    return await UsageRegistry(store.engine).add_database(database, new.cost)


@router.get("/databases")
async def list_databases(store: StoreDep) -> list[UsageDatabase]:
    return await UsageRegistry(store.engine).list_databases()


@router.get("/databases/{code}")
async def get_database(code: str, store: StoreDep) -> UsageDatabase:
    return await UsageRegistry(store.engine).get_database(code)


@router.put("/databases/{code}/costs")
async def set_cost(code: str, cost: UsageCost, store: StoreDep) -> UsageDatabase:
    """Set the subscription cost of one year (one cost per year: it replaces that year's)."""
    return await UsageRegistry(store.engine).set_cost(code, cost)


@router.put("/databases/{code}/credentials/{member}")
async def set_credentials(
    code: str, member: str, given: CredentialsSet, store: StoreDep
) -> CredentialsPublic:
    """Store a member's SUSHI credentials; the answer says which parts are set, never their values."""
    return await UsageRegistry(store.engine).set_credentials(code, member, given)


@router.get("/databases/{code}/credentials")
async def list_credentials(code: str, store: StoreDep) -> list[CredentialsPublic]:
    return await UsageRegistry(store.engine).list_credentials(code)


@router.post("/harvest", status_code=status.HTTP_202_ACCEPTED)
async def start_harvest(body: UsageHarvestRequest, ctx: ContextDep) -> JobView:
    """Harvest COUNTER reports through SUSHI in the background (all databases by default); with
    ``from``/``to`` every month of the range is asked again and replaces what was stored."""
    first = parse_month(body.first) if body.first else None
    last = parse_month(body.last) if body.last else None
    if body.databases:  # unknown codes are a 404 now, not a failed job later
        await UsageRegistry(ctx.store.engine).list_databases(body.databases)

    async def work(job: Job) -> Any:
        summaries = await UsageHarvest(ctx.store.engine, ctx.settings, job).run(body.databases, first, last)
        return [s.model_dump(mode="json") for s in summaries]

    params = {"databases": body.databases, "from": body.first, "to": body.last}
    return await ctx.jobs.start("usage-harvest", work, params)


@router.post("/import/{database}/{member}")
async def import_file(database: str, member: str, request: Request, ctx: ContextDep) -> ImportResult:
    """Import a COUNTER R5/R5.1 report file (JSON, TSV, CSV; multipart ``file`` or the raw body)."""
    path = await save_upload(request, ctx.settings.home / "uploads", ctx.settings.max_response_bytes)
    try:
        return await import_report(ctx.store.engine, database, member, path.read_bytes())
    finally:
        path.unlink(missing_ok=True)


@router.get("/months")
async def months(
    store: StoreDep, database: str | None = None, member: str | None = None, status: str | None = None
) -> list[HarvestOutcome]:
    """The state of every harvested or imported month (``ok``, ``no_usage``, ``not_ready``, ...)."""
    return await list_outcomes(store.engine, database, member, status)


YearQuery = Annotated[int | None, Query(ge=1990, le=2200, description="Default: the latest year with data")]


@router.get("/report", response_model=UsageReport)
async def report(
    store: StoreDep,
    year: YearQuery = None,
    member: str | None = None,
    database: str | None = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Downloads per member, database and month, totals, monthly average, year-on-year change, cost
    per download and each member's share of the cost, members ranked by use."""
    result = await build_report(store.engine, year, member, database)
    if format == "csv":
        return _csv_download(report_csv(result), f"lienhop-usage-{result.year}.csv")
    return result


@router.get("/report/page", response_class=HTMLResponse, include_in_schema=False)
async def report_page(
    request: Request,
    store: StoreDep,
    year: YearQuery = None,
    member: str | None = None,
    database: str | None = None,
    lang: Literal["vi", "en"] = "vi",
) -> HTMLResponse:
    """The usage report as a page with the monthly chart, in Vietnamese (default) or English."""
    result = await build_report(store.engine, year, member, database)
    other = next(code for code in LANGUAGES if code != lang)
    params = {"year": year, "member": member, "database": database}
    context = {
        "params": params,
        "report": result,
        "t": words(lang),
        "lang": lang,
        "other": other,
        "chart": Markup(monthly_chart(result, lang)),  # drawn by us from numbers; its title is escaped
    }
    return render(request, "usage_report.html", context)


@router.get("/scorecard", response_model=Scorecard)
async def scorecard(store: StoreDep, year: YearQuery = None, format: Literal["json", "csv"] = "json") -> Any:
    """Per member for the year (default: this year): records shared (live, added, withdrawn),
    freshness (last successful harvest, share of harvests that succeeded, days failing), quarantine
    rate, use of the shared databases and of Lienhop, observers' eligibility; ranked, with the
    previous year's figures beside."""
    card = await build_scorecard(store.engine, year)
    if format == "csv":
        return _csv_download(scorecard_csv(card), f"lienhop-scorecard-{card.year}.csv")
    return card


@router.get("/scorecard/page", response_class=HTMLResponse, include_in_schema=False)
async def scorecard_page(
    request: Request, store: StoreDep, year: YearQuery = None, lang: Literal["vi", "en"] = "vi"
) -> HTMLResponse:
    """The scorecard as a page, in Vietnamese (default) or English."""
    card = await build_scorecard(store.engine, year)
    other = next(code for code in LANGUAGES if code != lang)
    context = {"params": {"year": year}, "card": card, "t": SCORECARD_WORDS[lang], "lang": lang,
               "other": other, "shown": SHOWN}  # fmt: skip
    return render(request, "usage_scorecard.html", context)


def _csv_download(text: str, name: str) -> Response:
    """A CSV file the browser saves as ``name``."""
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

"""The HTML pages: ``GET /`` (search with facets), ``GET /work/{id}`` and ``GET /record/{id}`` (holdings)
for researchers;
``GET /status`` and ``GET /status/{code}`` (harvest status, runs, quarantined records) for member
librarians and consortium admins. Every page speaks Vietnamese or English (``app/i18n``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from schemas.errors import NotFound, WorkMoved
from schemas.member import Member
from schemas.search import SearchResponse
from schemas.work import fullest
from search.semantics import MAX_WINDOW
from store.records import StoredRecord

from ..catalog import member_status, member_statuses, opac_link, other_holders
from ..deps import SearchRequestDep, StoreDep
from ..holdings import members_by_code
from ..i18n import FACET_NAMES, LANGUAGES, SORT_NAMES, PageText
from ..web_support import member_name, page_params, page_text, query_url, render, run_search, values
from . import seo
from .seo import record_metadata

router = APIRouter(include_in_schema=False)
router.include_router(seo.router)

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGE_SIZE = 10
FACET_SHOWN = 8  # values shown per facet; the rest behind "more"
#: facet name -> the query parameter that filters on it
FACET_PARAMS = {"member": "member", "type": "type", "language": "lang", "subject": "subject"}
#: What a new search from the search box keeps: the chosen filters and the sort order. Not
#: ``correct=false``: "search exactly as typed" was chosen for those words, and new words get corrected
#: again; the page's own links (paging, sort, filters) keep it.
KEPT = ("member", "type", "lang", "subject", "year_from", "year_to", "sort")
#: The exports of a result page linked under the results (``GET /search?format=``): format -> its name
PAGE_EXPORTS = {"ris": "RIS", "bibtex": "BibTeX", "marcxml": "MARCXML", "csl-json": "CSL-JSON"}


@dataclass
class FacetItem:
    label: str
    count: int
    chosen: bool
    url: str
    lang: str | None = None


@dataclass
class Facet:
    name: str
    heading: str
    shown: list[FacetItem] = field(default_factory=list)
    more: list[FacetItem] = field(default_factory=list)


@dataclass
class Chip:
    heading: str
    label: str
    url: str
    lang: str | None = None


def _label(name: str, value: str, members: dict[str, Member], text: PageText) -> tuple[str, str | None]:
    """The shown name of a facet value, and its ``lang`` attribute when it is in another language."""
    if name == "member":
        return member_name(members.get(value), text, value)
    if name == "type":
        return text.type_name(value), None
    if name == "language":
        return text.language_name(value), None
    return value, text.html_lang(None, value)


def _facets(
    result: SearchResponse, params: dict[str, Any], members: dict[str, Member], text: PageText
) -> list[Facet]:
    """The facets beside the results; a chosen value links to the page without it."""
    facets: list[Facet] = []
    for name, key in FACET_PARAMS.items():
        counted = result.facets.get(name) or []
        if not counted:
            continue
        chosen = values(params, key)
        facet = Facet(name=name, heading=text.gettext(FACET_NAMES[name]))
        for n, item in enumerate(counted):
            picked = item.value in chosen
            others = [v for v in chosen if v != item.value] if picked else [*chosen, item.value]
            label, lang = _label(name, item.value, members, text)
            entry = FacetItem(label, item.count, picked, query_url("/", params, **{key: others}), lang)
            (facet.shown if n < FACET_SHOWN or picked else facet.more).append(entry)
        facets.append(facet)
    return facets


def _chips(params: dict[str, Any], members: dict[str, Member], text: PageText) -> list[Chip]:
    """The chosen filters, each a link to the same search without it."""
    chips: list[Chip] = []
    for name, key in FACET_PARAMS.items():
        chosen = values(params, key)
        for value in chosen:
            label, lang = _label(name, value, members, text)
            rest = [v for v in chosen if v != value]
            heading = text.gettext(FACET_NAMES[name])
            chips.append(Chip(heading, label, query_url("/", params, **{key: rest}), lang))
    low, high = params.get("year_from"), params.get("year_to")
    if low or high:
        span = f"{low or '…'}–{high or '…'}" if low != high else str(low)
        url = query_url("/", params, year_from=None, year_to=None)
        chips.append(Chip(text.gettext(FACET_NAMES["year"]), span, url))
    return chips


def _years(result: SearchResponse | None) -> list[int]:
    """The years of the results, ascending: the bounds the year-range inputs suggest."""
    counted = result.facets.get("year") or [] if result else []
    return sorted(int(v.value) for v in counted if v.value.isdigit())


def _requested_page(request: Request, page: int) -> int:
    """``page``, or the older ``n`` of links made before pages were numbered."""
    if "page" not in request.query_params:
        legacy = request.query_params.get("n", "")
        if legacy.isdigit() and int(legacy) >= 1:
            return int(legacy)
    return page


@router.get("/static/site.css", include_in_schema=False)
async def site_css() -> FileResponse:
    return FileResponse(STATIC / "site.css", media_type="text/css; charset=utf-8")


@router.get("/static/autocomplete.js", include_in_schema=False)
async def autocomplete_js() -> FileResponse:
    return FileResponse(STATIC / "autocomplete.js", media_type="text/javascript; charset=utf-8")


@router.get("/", response_class=HTMLResponse)
async def search_page(request: Request, search: SearchRequestDep, store: StoreDep) -> HTMLResponse:
    """The search box, and, with a query or filters, results with highlights, facets and paging."""
    text = page_text(request)
    params = page_params(request)
    languages = [code for code in search.filters.language if code not in LANGUAGES]
    filters = search.filters.model_copy(update={"language": languages})
    filtered = any(getattr(filters, f) for f in ("member", "type", "language", "subject"))
    filtered = filtered or filters.year_from is not None or filters.year_to is not None
    members = {m.code: m for m in await store.list_members()}
    page = _requested_page(request, search.page)
    last_allowed = MAX_WINDOW // PAGE_SIZE
    result, error, out_of_range = None, None, False
    if search.q or filtered:
        wanted = search.model_copy(
            update={"filters": filters, "cursor": None, "size": PAGE_SIZE, "facet_size": 50,
                    "page": page if page <= last_allowed else 1}
        )  # fmt: skip
        result, error = await run_search(request, wanted)
        out_of_range = page > last_allowed or (result is not None and page > 1 and not result.hits)
    last_page = min(math.ceil(result.total / PAGE_SIZE), last_allowed) if result else 0
    exports = []
    if result and result.hits and not out_of_range:  # the page shown: same search, page and size
        exports = [
            (name, query_url("/search", params, page=page, size=PAGE_SIZE, format=fmt))
            for fmt, name in PAGE_EXPORTS.items()
        ]
    status = 400 if error else 404 if out_of_range else 200
    return render(
        request,
        "search.html",
        {
            "nav": "search",
            "q": search.q,
            "sort": search.sort,
            "correct": search.correct,
            "sorts": SORT_NAMES,
            "result": result,
            "error": error,
            "members": members,
            "params": params,
            "kept": [(k, v) for k in KEPT for v in values(params, k)],
            "facets": _facets(result, params, members, text) if result else [],
            "chips": _chips(params, members, text),
            "years": _years(result),
            "page": page,
            "last_page": last_page,
            "out_of_range": out_of_range,
            "exports": exports,
            "first_shown": (page - 1) * PAGE_SIZE + 1,
            "last_shown": (page - 1) * PAGE_SIZE + len(result.hits) if result else 0,
        },
        status_code=status,
    )


async def _described(
    request: Request, store: StoreDep, stored: StoredRecord, path: str | None = None
) -> dict[str, Any]:
    """What the record page shows of one record (and the work page, at ``path``, of its fullest
    record): its member's OPAC link, every other member holding the same item, and the page's metadata."""
    member = await store.get_member(stored.record.member)
    others = await other_holders(store, stored.record)
    opac_url = opac_link(member, stored.record)
    seo = record_metadata(request, stored, member, opac_url, others, page_text(request), path)
    return {
        "stored": stored,
        "record": stored.record,
        "member": member,
        "opac_url": opac_url,
        "others": others,
        "seo": seo,
    }


@router.get("/record/{record_id}", response_class=HTMLResponse)
async def record_page(request: Request, record_id: str, store: StoreDep) -> HTMLResponse:
    """One record with its member's OPAC link and every other member holding the same item."""
    return render(request, "record.html", await _described(request, store, await store.get_record(record_id)))


@router.get("/work/{work_id}", response_class=HTMLResponse, response_model=None)
async def work_page(request: Request, work_id: str, store: StoreDep) -> HTMLResponse | RedirectResponse:
    """One work: the fullest record's description, every member holding it with a link into its
    OPAC, and each record with what joined it to the work. A merged work's page moves to the
    surviving one."""
    try:
        state = await store.get_work(work_id)
    except WorkMoved as moved:
        return RedirectResponse(f"/work/{moved.new_id}", status_code=301)
    if not state.records:
        raise NotFound(f"no work {work_id!r}")
    stored = next(s for s in state.records if s.record is fullest([r.record for r in state.records]))
    context = await _described(request, store, stored, f"/work/{work_id}")
    context.update(work=state, work_members=await members_by_code(store))
    return render(request, "record.html", context)


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request, store: StoreDep) -> HTMLResponse:
    """Every member's last harvest, record counts, quarantine and schedule; failures and overdue
    schedules stand out (a schedule that silently stops is what harvest admins report most)."""
    reports = await member_statuses(store)
    failing = sum(1 for r in reports if r.last_harvest is not None and r.last_harvest.ok is False)
    overdue = sum(1 for r in reports if r.harvest_overdue)
    context = {"nav": "status", "reports": reports, "failing": failing, "overdue": overdue}
    return render(request, "status.html", context)


@router.get("/status/{code}", response_class=HTMLResponse)
async def member_status_page(request: Request, code: str, store: StoreDep) -> HTMLResponse:
    """One member's harvest and import runs and its quarantined records with their reasons."""
    report = await member_status(store, code)
    context = {
        "nav": "status",
        "report": report,
        "runs": await store.list_runs(report.code, limit=30),
        "quarantined": await store.list_quarantine(report.code, limit=200),
    }
    return render(request, "member_status.html", context)

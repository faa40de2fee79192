"""The embeddable pieces for member OPACs: ``/widget.js`` (the ``<lienhop-holdings>`` and
``<lienhop-search>`` elements) and an iframe-able member search box for OPACs that forbid scripts."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from schemas.errors import InvalidInput
from schemas.search import SearchFilters

from ..deps import SearchRequestDep, StoreDep
from ..openapi import problems
from ..web_support import member_name, page_text, render, run_search

router = APIRouter(tags=["widget"])

WIDGET_JS = Path(__file__).resolve().parent.parent / "static" / "widget.js"


@router.get("/widget.js", include_in_schema=False)
async def widget_js() -> FileResponse:
    """The "Also held by" script (see its header for the one-line embed)."""
    return FileResponse(
        WIDGET_JS,
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get(
    "/widget/search",
    response_class=HTMLResponse,
    responses={
        **problems(404, 422, 503),
        400: {
            "description": "The query cannot be parsed: the search box says so",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
    },
)
async def widget_search(
    request: Request,
    store: StoreDep,
    search: SearchRequestDep,
) -> HTMLResponse:
    """A search box scoped to one member (``?member=CODE``); when it has nothing, what others hold.
    One language throughout: ``?lang=vi|en``."""
    if len(search.filters.member) != 1:
        raise InvalidInput("member: give the code of the one member this search box is for")
    owner = await store.get_member(search.filters.member[0])
    scoped = search.model_copy(update={"filters": SearchFilters(member=[owner.code]), "facets": []})
    result, error = await run_search(request, scoped) if search.q else (None, None)
    elsewhere = None
    if result is not None and result.total == 0:
        elsewhere, _ = await run_search(request, scoped.model_copy(update={"filters": SearchFilters()}))
    members = {m.code: m for m in await store.list_members()} if elsewhere else {}
    context = {
        "owner": owner,
        "owner_name": member_name(owner, page_text(request))[0],
        "members": members,
        "q": search.q,
        "result": result,
        "elsewhere": elsewhere,
        "error": error,
    }
    return render(request, "widget_search.html", context, status_code=400 if error else 200)

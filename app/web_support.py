"""Rendering helpers for the server-side HTML pages (search page, record page, widget search box)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from schemas.errors import QuerySyntaxError
from schemas.search import SearchRequest, SearchResponse

from .deps import get_context

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


def highlight(fragment: str) -> Markup:
    """A highlight fragment with only its ``<mark>`` tags kept as markup (the rest is escaped).

    The search service sends fragments already escaped; unescaping first avoids escaping twice.
    """
    safe = str(escape(html.unescape(fragment)))
    return Markup(safe.replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>"))


def query_url(path: str, params: dict[str, Any], **changes: Any) -> str:
    """``path`` with the query string ``params`` updated by ``changes`` (None removes a key)."""
    merged = {**params, **changes}
    pairs: list[tuple[str, str]] = []
    for key, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        for item in value if isinstance(value, list) else [value]:
            pairs.append((key, str(item)))
    return f"{path}?{urlencode(pairs)}" if pairs else path


TEMPLATES.env.filters["hl"] = highlight
TEMPLATES.env.globals["query_url"] = query_url


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A template rendered for this request."""
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)


async def run_search(request: Request, search: SearchRequest) -> tuple[SearchResponse | None, str | None]:
    """A search for a page: the response, or the query error to show next to the search box."""
    service = get_context(request).require_search()
    try:
        return await service.search(search), None
    except QuerySyntaxError as exc:
        return None, exc.detail

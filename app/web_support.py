"""Rendering helpers for the server-side HTML pages: the page language, query strings, searches and
error pages, shared by the researcher pages (``routes/web.py``) and the widget (``routes/widget.py``)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from schemas.errors import InvalidInput, QuerySyntaxError
from schemas.search import SearchRequest, SearchResponse

from .deps import get_context
from .i18n import COOKIE, LANGUAGES, PageText, choose_language

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))

#: Query parameters that page through results rather than choose them.
PAGING = frozenset({"cursor", "page", "n"})
COOKIE_SECONDS = 365 * 24 * 3600


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


def values(params: dict[str, Any], key: str) -> list[str]:
    """The values of ``key`` in ``params`` as a list (absent: empty)."""
    value = params.get(key)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [str(value)]


TEMPLATES.env.filters["hl"] = highlight
TEMPLATES.env.globals["query_url"] = query_url
TEMPLATES.env.globals["values"] = values


def page_text(request: Request) -> PageText:
    """This request's language (``?lang=vi|en``, else the cookie, else Vietnamese)."""
    cached = getattr(request.state, "page_text", None)
    if isinstance(cached, PageText):
        return cached
    lang, _chosen = choose_language(request.query_params.getlist("lang"), request.cookies.get(COOKIE))
    text = PageText(lang)
    request.state.page_text = text
    return text


def page_params(request: Request) -> dict[str, Any]:
    """The query string (repeated keys as lists) without paging and without the page language."""
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in PAGING or (key == "lang" and value in LANGUAGES):
            continue
        current = params.get(key)
        if isinstance(current, list):
            current.append(value)
        else:
            params[key] = [current, value] if current is not None else value
    return params


def member_name(member: Any, text: PageText, code: str = "") -> tuple[str, str | None]:
    """A member's name in the page's language, and the ``lang`` attribute it needs (the Vietnamese
    name standing in for a missing English one)."""
    if member is None:
        return code, None
    fields = member if isinstance(member, dict) else vars(member)  # a model, or a holding as JSON
    if text.lang == "en" and fields.get("name_en"):
        return str(fields["name_en"]), None
    return str(fields.get("name_vi") or code), ("vi" if text.lang != "vi" else None)


def member_label(member: Any, text: PageText, code: str = "") -> Markup:
    """:func:`member_name` as markup, wrapped in a ``lang`` span when it needs one. ``member`` is a
    ``Member`` or anything with its ``name_vi``/``name_en`` (the holdings of a hit or a record)."""
    label, lang = member_name(member, text, code)
    if lang:
        return Markup('<span lang="{}">{}</span>').format(lang, label)
    return Markup("{}").format(label)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A template rendered for this request in its language; ``?lang=`` is remembered in a cookie."""
    text = page_text(request)
    params = page_params(request)
    base = str(request.base_url).rstrip("/")

    def lang_url(lang: str) -> str:
        return base + query_url(request.url.path, {**params, "lang": [*values(params, "lang"), lang]})

    page = {
        "t": text,
        "_": text.gettext,
        "gettext": text.gettext,
        "ngettext": text.ngettext,
        "lang_url": lang_url,
        "languages": LANGUAGES,
        "member_label": lambda member, code="": member_label(member, text, code),
        "params": params,
        "canonical": base + request.url.path,
        **context,
    }
    response = TEMPLATES.TemplateResponse(request, name, page, status_code=status_code)
    if text.lang in request.query_params.getlist("lang"):
        response.set_cookie(COOKIE, text.lang, max_age=COOKIE_SECONDS, samesite="lax")
    response.headers["Content-Language"] = text.lang
    response.headers["Vary"] = "Cookie"  # the same URL reads in the language the cookie remembers
    return response


def error_message(exc: InvalidInput, text: PageText) -> str:
    """An input error of a search in the page's language (a query error says where it is)."""
    if isinstance(exc, QuerySyntaxError):
        return text.query_error(exc.detail, exc.position)
    return text.gettext("The search cannot be run with these parameters.")


async def run_search(request: Request, search: SearchRequest) -> tuple[SearchResponse | None, str | None]:
    """A search for a page: the response, or the input error to show next to the search box."""
    service = get_context(request).require_search()
    try:
        return await service.search(search), None
    except InvalidInput as exc:
        return None, error_message(exc, page_text(request))


def wants_html(request: Request) -> bool:
    """Whether an error should be answered as a page: a browser asking for HTML, not an API client."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept.split(",")[0]


def error_page(
    request: Request, problem: dict[str, Any], headers: dict[str, str] | None = None
) -> HTMLResponse:
    """An error as a page in the request's language; the service's own (English) detail is kept
    under "technical detail", marked as English."""
    status = int(problem.get("status", 500))
    text = page_text(request)
    message = None
    if problem.get("position") is not None:
        message = text.query_error(str(problem.get("detail", "")), int(problem["position"]))
    elif status == 404:
        message = text.gettext("There is nothing at this address. It may have been removed or mistyped.")
    elif status == 422:
        names = [str(p.get("parameter")) for p in problem.get("invalid_params", []) if p.get("parameter")]
        if names:
            message = text.gettext("These parameters are not valid: %(names)s", names=", ".join(names))
        else:
            message = text.gettext("The search cannot be run with these parameters.")
    elif status >= 500:
        message = text.gettext("The service could not answer. Please try again in a moment.")
    response = render(
        request,
        "error.html",
        {
            "status": status,
            "title": text.error_title(status),
            "message": message or text.gettext("The request could not be answered."),
            "detail": problem.get("detail"),
        },
        status_code=status,
    )
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response

"""Request dependencies as ``Annotated`` types, so routes declare what they use as plain parameters."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schemas.search import SearchRequest, SortOrder
from schemas.settings import Settings
from store.front import RecordStore

from .context import AppContext
from .errors import Unauthorized
from .jobs import JobRegistry

if TYPE_CHECKING:
    from search.service import SearchService


def get_context(request: Request) -> AppContext:
    """The process's opened resources, set by the app's lifespan."""
    ctx: AppContext = request.app.state.lienhop
    return ctx


ContextDep = Annotated[AppContext, Depends(get_context)]


def get_settings(ctx: ContextDep) -> Settings:
    return ctx.settings


def get_store(ctx: ContextDep) -> RecordStore:
    return ctx.store


def get_search(ctx: ContextDep) -> SearchService:
    return ctx.require_search()


def get_jobs(ctx: ContextDep) -> JobRegistry:
    return ctx.jobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[RecordStore, Depends(get_store)]
SearchDep = Annotated["SearchService", Depends(get_search)]
JobsDep = Annotated[JobRegistry, Depends(get_jobs)]


def require_admin(request: Request, settings: SettingsDep) -> None:
    """Admin endpoints need ``Authorization: Bearer <admin_token>`` when a token is configured."""
    token = settings.admin_token
    if not token:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("this endpoint needs the admin bearer token")


AdminDep = Depends(require_admin)


#: Query parameters named differently from the model's fields.
_PARAMETER = {"language": "lang"}


def search_request(
    q: Annotated[str, Query(description='Words, "phrases", title:, AND/OR/NOT')] = "",
    size: Annotated[int, Query(description="Hits per page")] = 10,
    page: Annotated[int, Query()] = 1,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    sort: Annotated[SortOrder, Query()] = "relevance",
    member: Annotated[list[str], Query(description="Member codes (repeat or comma-separate)")] = [],  # noqa: B006
    type: Annotated[list[str], Query()] = [],  # noqa: B006
    lang: Annotated[list[str], Query(description="ISO 639-3 codes, e.g. vie, eng")] = [],  # noqa: B006
    subject: Annotated[list[str], Query()] = [],  # noqa: B006
    year_from: Annotated[int | None, Query()] = None,
    year_to: Annotated[int | None, Query()] = None,
    facets: Annotated[str | None, Query(description="Comma-separated facets; empty for none")] = None,
    correct: Annotated[
        bool, Query(description="Correct slips when fewer than 5 hits; false: as typed")
    ] = True,
) -> SearchRequest:
    """A :class:`SearchRequest` from the query string shared by ``/search`` and the web pages.

    The model holds the rules (bounds, facet names, year order); a value it refuses is answered as
    FastAPI answers a malformed parameter: 422 naming the query parameter.
    """
    try:
        return SearchRequest.from_params(
            q,
            size=size,
            page=page,
            cursor=cursor,
            sort=sort,
            member=member,
            type=type,
            language=lang,
            subject=subject,
            year_from=year_from,
            year_to=year_to,
            facets=facets,
            correct=correct,
        )
    except ValidationError as exc:
        raise RequestValidationError([_as_query_error(error) for error in exc.errors()]) from None


def _as_query_error(error: ErrorDetails) -> dict[str, object]:
    """A model error located at the query parameter it came from (``filters.language.0`` -> ``lang``)."""
    loc = [part for part in error["loc"] if part != "filters"]
    name = str(loc[0]) if loc else "query"
    return {
        "loc": ("query", _PARAMETER.get(name, name)),
        "msg": error["msg"].removeprefix("Value error, "),
        "type": error["type"],
    }


SearchRequestDep = Annotated[SearchRequest, Depends(search_request)]

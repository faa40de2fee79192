"""Request dependencies as ``Annotated`` types, so routes declare what they use as plain parameters."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Query, Request

from schemas.errors import InvalidInput
from schemas.search import FACETS, SearchFilters, SearchRequest, SortOrder
from schemas.settings import Settings
from store.front import RecordStore

from .context import AppContext
from .errors import Unauthorized
from .jobs import JobRegistry

if TYPE_CHECKING:
    from search.service import SearchService


def get_context(request: Request) -> AppContext:
    """The process's opened resources, set by the app's lifespan."""
    return request.app.state.lienhop  # type: ignore[no-any-return]


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


def _split(values: list[str]) -> list[str]:
    """Repeated (``member=A&member=B``) and comma-separated (``member=A,B``) values alike."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def search_request(
    q: Annotated[str, Query(max_length=1000, description='Words, "phrases", title:, AND/OR/NOT')] = "",
    size: Annotated[int, Query(ge=0, le=1000, description="Hits per page")] = 10,
    page: Annotated[int, Query(ge=1, le=10000)] = 1,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    sort: Annotated[SortOrder, Query()] = "relevance",
    member: Annotated[list[str], Query(description="Member codes (repeat or comma-separate)")] = [],  # noqa: B006
    type: Annotated[list[str], Query()] = [],  # noqa: B006
    lang: Annotated[list[str], Query(description="ISO 639-3 codes, e.g. vie, eng")] = [],  # noqa: B006
    subject: Annotated[list[str], Query()] = [],  # noqa: B006
    year_from: Annotated[int | None, Query(ge=0, le=9999)] = None,
    year_to: Annotated[int | None, Query(ge=0, le=9999)] = None,
    facets: Annotated[str | None, Query(description="Comma-separated facets; empty for none")] = None,
) -> SearchRequest:
    """A :class:`SearchRequest` from the query string shared by ``/search`` and the web pages."""
    chosen = list(FACETS) if facets is None else _split([facets])
    if unknown := [f for f in chosen if f not in FACETS]:
        raise InvalidInput(f"facets: unknown facet {', '.join(unknown)} (known: {', '.join(FACETS)})")
    if year_from is not None and year_to is not None and year_from > year_to:
        raise InvalidInput(f"year_from ({year_from}) is after year_to ({year_to})")
    filters = SearchFilters(
        member=[m.upper() for m in _split(member)],
        type=_split(type),
        language=_split(lang),
        subject=_split(subject),
        year_from=year_from,
        year_to=year_to,
    )
    return SearchRequest(q=q, filters=filters, sort=sort, size=size, page=page, cursor=cursor, facets=chosen)


SearchRequestDep = Annotated[SearchRequest, Depends(search_request)]

"""Request dependencies as ``Annotated`` types, so routes declare what they use as plain parameters."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schemas.auth import Principal
from schemas.search import (
    FACETS,
    MAX_PAGE,
    MAX_QUERY_LENGTH,
    MAX_SIZE,
    MAX_YEAR,
    MIN_YEAR,
    SearchRequest,
    SortOrder,
)
from schemas.settings import Settings
from store.front import RecordStore

from .auth import AUDIT_SCOPE_KEY, Authenticator
from .context import AppContext
from .errors import Forbidden
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


def get_auth(request: Request) -> Authenticator:
    """The authenticator the app's lifespan made."""
    auth: Authenticator = request.app.state.auth
    return auth


AuthDep = Annotated[Authenticator, Depends(get_auth)]


async def admin_principal(request: Request, auth: AuthDep) -> Principal:
    """Who an admin API request acts as (``Authorization`` header only; see :mod:`app.auth`).

    The principal is also handed to the audit middleware. A client key is refused: it only reads.
    """
    principal = await auth.admin(request)
    note_principal(request, principal)
    if principal.scope == "client":
        raise Forbidden("a client key may only use the public API")
    return principal


def note_principal(request: Request, principal: Principal) -> None:
    """Tell the audit log (``app.guard``) who this request acts as."""
    holder = request.scope.get(AUDIT_SCOPE_KEY)
    if isinstance(holder, dict):
        holder["principal"] = principal


PrincipalDep = Annotated[Principal, Depends(admin_principal)]
AdminDep = Depends(admin_principal)


def require_admin_scope(principal: PrincipalDep) -> Principal:
    """Routes for the consortium's admins only (members, reindex, audit)."""
    if principal.scope != "admin":
        raise Forbidden("this needs an admin key")
    return principal


AdminOnlyDep = Annotated[Principal, Depends(require_admin_scope)]


def require_member(principal: Principal, code: str) -> None:
    """Member-scoped admin work: a curator only for its own member."""
    if not principal.may_act_for(code):
        raise Forbidden(f"this key may only act for member {principal.member}")


#: ``facets=``: known names separated by commas (spaces and empty items are ignored), as the OpenAPI
#: document's pattern.
_FACET = "(?:" + "|".join(FACETS) + ")"
_FACETS_LIST = rf"[ ]*(?:{_FACET}[ ]*)?(?:,[ ]*(?:{_FACET}[ ]*)?)*"
FACETS_PATTERN = f"^{_FACETS_LIST}$"

#: Query parameters named differently from the model's fields.
_PARAMETER = {"language": "lang"}


def search_request(
    q: Annotated[
        str, Query(max_length=MAX_QUERY_LENGTH, description='Words, "phrases", title:, AND/OR/NOT')
    ] = "",
    size: Annotated[int, Query(ge=0, le=MAX_SIZE, description="Hits per page")] = 10,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    cursor: Annotated[
        str | None,
        Query(description="next_cursor of the previous page, as given (any other value is a 422)"),
    ] = None,
    sort: Annotated[SortOrder, Query()] = "relevance",
    member: Annotated[list[str], Query(description="Member codes (repeat or comma-separate)")] = [],  # noqa: B006
    type: Annotated[list[str], Query()] = [],  # noqa: B006
    lang: Annotated[list[str], Query(description="ISO 639-3 codes, e.g. vie, eng")] = [],  # noqa: B006
    subject: Annotated[list[str], Query()] = [],  # noqa: B006
    year_from: Annotated[int | None, Query(ge=MIN_YEAR, le=MAX_YEAR)] = None,
    year_to: Annotated[
        int | None, Query(ge=MIN_YEAR, le=MAX_YEAR, description="Not before year_from (else a 422)")
    ] = None,
    facets: Annotated[
        str | None,
        Query(
            # Documented, and checked below after the model, whose message names an unknown facet.
            json_schema_extra={"pattern": FACETS_PATTERN},
            description="Comma-separated facets of " + ", ".join(FACETS) + "; empty for none",
        ),
    ] = None,
    correct: Annotated[
        bool, Query(description="Correct slips when fewer than 5 hits; false: as typed")
    ] = True,
) -> SearchRequest:
    """A :class:`SearchRequest` from the query string shared by ``/search`` and the web pages.

    The model holds the rules (bounds, facet names, year order); a value it refuses is answered as
    FastAPI answers a malformed parameter: 422 naming the query parameter.
    """
    try:
        request = SearchRequest.from_params(
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
    if facets is not None and not re.fullmatch(_FACETS_LIST, facets):  # e.g. a tab between names
        error = {
            "loc": ("query", "facets"),
            "msg": "facet names separated by commas and spaces",
            "type": "pattern",
        }
        raise RequestValidationError([error])
    return request


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

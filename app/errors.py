"""The one place where errors become HTTP answers: RFC 9457 ``application/problem+json`` documents,
or, for a browser asking for HTML, the same problem as a page in its language (``web_support``)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from schemas.errors import LienhopError

PROBLEM = "application/problem+json"


class InvalidParam(BaseModel):
    """One refused parameter of a 422 answer."""

    parameter: str = Field(description="Its name (a dotted path inside a JSON body)")
    in_: str = Field(alias="in", description="query, path, header, body or request")
    message: str


class Problem(BaseModel):
    """Every error answer (RFC 9457), whatever the route: the OpenAPI document's one error schema."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field("about:blank", description="Always about:blank: the status says what happened")
    title: str = Field(description="Short summary of the status, e.g. Not found")
    status: int = Field(ge=400, le=599, description="The HTTP status, repeated")
    detail: str = Field(description="What went wrong, for a person to read")
    position: int | None = Field(None, description="Query syntax errors (400): offset in the query")
    invalid_params: list[InvalidParam] | None = Field(None, description="422: each refused parameter")


class Unauthorized(LienhopError):
    """An admin endpoint called without a usable key (none, unknown, revoked or expired)."""

    status = 401
    title = "Unauthorized"


class Forbidden(LienhopError):
    """A key whose scope does not cover the request (a curator of another member, a client key)."""

    status = 403
    title = "Forbidden"


class UnsupportedMediaType(LienhopError):
    """A request body in a media type the route does not take: an admin body that is not JSON (a form or
    text/plain post from another site), a batch lookup body neither JSON nor text."""

    status = 415
    title = "Unsupported media type"


class TooManyRequests(LienhopError):
    """A rate limit or a full job queue; ``retry_after`` seconds is sent as ``Retry-After``."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)


def problem_response(problem: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem document as a response with its status."""
    return JSONResponse(problem, status_code=int(problem["status"]), media_type=PROBLEM, headers=headers)


def _answer(request: Request, problem: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """The problem document, or its page when a browser asks for HTML."""
    from .web_support import error_page, wants_html  # the pages import this module: import late

    if wants_html(request):
        return error_page(request, problem, headers)
    return problem_response(problem, headers)


async def _lienhop_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LienhopError)
    return _answer(request, exc.to_problem(), _headers(exc))


def error_response(exc: LienhopError) -> JSONResponse:
    """The problem document of a Lienhop error, with the headers its class calls for (for the
    middleware, which answers API clients only)."""
    return problem_response(exc.to_problem(), _headers(exc))


def _headers(exc: LienhopError) -> dict[str, str] | None:
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    return None


def _where(loc: tuple[Any, ...]) -> tuple[str, str]:
    """("query", "size") from a pydantic location; body fields are dotted paths."""
    if not loc:
        return "request", ""
    source = str(loc[0])
    name = ".".join(str(part) for part in loc[1:]) or source
    return source, name


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    invalid: list[dict[str, Any]] = []
    for error in exc.errors():
        source, name = _where(tuple(error.get("loc", ())))
        invalid.append({"parameter": name, "in": source, "message": error.get("msg", "invalid")})
    detail = "; ".join(f"{i['parameter']} ({i['in']}): {i['message']}" for i in invalid) or "invalid request"
    problem = {
        "type": "about:blank",
        "title": "Invalid parameter",
        "status": 422,
        "detail": detail,
        "invalid_params": invalid,
    }
    return _answer(request, problem)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    try:
        title = HTTPStatus(exc.status_code).phrase
    except ValueError:
        title = "Error"
    problem = {"type": "about:blank", "title": title, "status": exc.status_code, "detail": str(exc.detail)}
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed(request)}
    return _answer(request, problem, headers)


def _allowed(request: Request) -> str:
    """Every method of every route at the request's path: Starlette names only the first route's,
    and a path may have several (``GET`` and ``POST /lookup``)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.PARTIAL:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Answer every Lienhop, validation and routing error with a problem document."""
    app.add_exception_handler(LienhopError, _lienhop_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

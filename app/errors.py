"""The one place where errors become HTTP answers: RFC 9457 ``application/problem+json`` documents."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    """An admin endpoint called without the configured bearer token."""

    status = 401
    title = "Unauthorized"


def problem_response(problem: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem document as a response with its status."""
    return JSONResponse(problem, status_code=int(problem["status"]), media_type=PROBLEM, headers=headers)


async def _lienhop_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LienhopError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return problem_response(exc.to_problem(), headers)


def _where(loc: tuple[Any, ...]) -> tuple[str, str]:
    """("query", "size") from a pydantic location; body fields are dotted paths."""
    if not loc:
        return "request", ""
    source = str(loc[0])
    name = ".".join(str(part) for part in loc[1:]) or source
    return source, name


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
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
    return problem_response(problem)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    try:
        title = HTTPStatus(exc.status_code).phrase
    except ValueError:
        title = "Error"
    problem = {"type": "about:blank", "title": title, "status": exc.status_code, "detail": str(exc.detail)}
    return problem_response(problem, dict(exc.headers) if exc.headers else None)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every Lienhop, validation and routing error with a problem document."""
    app.add_exception_handler(LienhopError, _lienhop_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

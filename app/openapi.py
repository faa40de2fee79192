"""The OpenAPI document, made to say what the API really answers.

FastAPI's generated document describes every error as ``application/json`` ``HTTPValidationError``,
while :mod:`app.errors` answers every error as ``application/problem+json``; it lists only the 422 of
parameter validation, not the 404, 400, 409 or 503 a route can give. So:

* routes declare the error statuses they can answer with :func:`problems` (descriptions only);
* :func:`honest_openapi` then gives every 4xx/5xx answer of every operation the one
  ``application/problem+json`` :class:`~app.errors.Problem` schema (unless the route declared another
  media type for it, as the widget's HTML error page), and drops FastAPI's
  ``HTTPValidationError``/``ValidationError`` schemas, which nothing sends.

``tests/app/test_openapi_conformance.py`` runs schemathesis over the JSON API against this document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .errors import PROBLEM, Problem

_WHY = {
    400: "The query cannot be parsed (problem with the position)",
    401: "The admin key is missing or wrong",
    404: "No such record, member or job",
    409: "Conflicts with the current state (duplicate code, early promotion)",
    422: "A parameter or the body breaks a rule (problem with invalid_params)",
    502: "The member's repository failed",
    503: "The search backend is unavailable",
}
_REF = "#/components/schemas/Problem"

#: The body of ``POST /admin/import/{code}``, read by ``app/uploads.py`` without a form model: a
#: multipart form with a ``file`` part, or the file itself as the body.
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "description": "A MARC file: ISO 2709 or MARCXML",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "application/marc": {"schema": {"type": "string", "format": "binary"}},
        "application/xml": {"schema": {"type": "string"}},
    },
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route: the error statuses it can answer, each a problem document."""
    return {status: {"description": _WHY.get(status, "Error")} for status in statuses}


def honest_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with problem+json errors (built once, then cached on the app)."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem = Problem.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                # A route that declared another media type for an error (an HTML page) keeps it.
                if status[:1] in {"4", "5"} and set(answer.get("content", {})) <= {"application/json"}:
                    answer["content"] = {PROBLEM: {"schema": {"$ref": _REF}}}
                    if answer.get("description") == "Validation Error":
                        answer["description"] = _WHY[422]
    app.openapi_schema = document
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`honest_openapi` at ``/openapi.json`` (and in ``/docs``)."""

    def openapi() -> dict[str, Any]:
        return honest_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override

"""The OpenAPI query parameters of the protocol endpoints, and registering one that answers GET and POST
(form) alike, as OAI-PMH and SRU do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response


def parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    """One optional query parameter of the protocol, a string unless ``schema`` says otherwise."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def add_get_and_post(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Any],
    *,
    responses: dict[int | str, dict[str, Any]],
    parameters: list[dict[str, Any]],
    summary: str,
) -> None:
    """One operation per method: OpenAPI operation ids must differ (``oai_get``, ``oai_post``). The
    same ``parameters`` are documented as the GET's query and as the POST's form fields."""
    name = path.strip("/")
    openapi_get: dict[str, Any] = {"parameters": parameters}
    fields = {p["name"]: {**p["schema"], "description": p["description"]} for p in parameters}
    form = {"type": "object", "properties": fields}
    openapi_form: dict[str, Any] = {
        "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": form}}}
    }
    for method in ("GET", "POST"):
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            response_class=Response,
            responses=responses,
            openapi_extra=openapi_get if method == "GET" else openapi_form,
            summary=f"{summary} ({method})",
            operation_id=f"{name}_{method.lower()}",
        )

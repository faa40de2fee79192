"""Registering a protocol endpoint that answers GET and POST (form) alike, as OAI-PMH and SRU do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response


def add_get_and_post(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Any],
    *,
    responses: dict[int | str, dict[str, Any]],
    openapi_get: dict[str, Any],
    openapi_form: dict[str, Any],
    summary: str,
) -> None:
    """One operation per method: OpenAPI operation ids must differ (``oai_get``, ``oai_post``)."""
    name = path.strip("/")
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

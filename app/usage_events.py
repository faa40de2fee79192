"""Counting Lienhop's own usage from the requests it answers: one ASGI middleware, no route touched.

What counts (only answers below 400; a 404 or a refused query is not usage):

=============================  ========  ======  =======================================
request                        kind      source  item
=============================  ========  ======  =======================================
``GET /search``                search    api
``GET /?q=...``                search    page
``GET /widget/search?q=...``   search    widget
``GET /lookup``                lookup    widget when a page on another origin asked, else api
``GET /record/{id}``           view      page    the record
``GET /records/{id}``          view      api     the record
``GET /works/{id}``            view      api     ``work:{id}``
``GET /go/{id}`` (302/303)     request   widget with ``member``, else page; the record
=============================  ========  ======  =======================================

The requesting member is resolved by :func:`requesting_member`, the one place to change: an API-key
dependency sets ``request.state.usage_member`` to the key's member code, and that wins; else the
``member`` parameter of ``/go`` and ``/widget/*`` (the member whose page or widget it is); else the
origin of the page that asked (``Origin``, or the ``Referer``'s origin), matched against the origins
members registered, when the batch is written (:mod:`usage.events`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.member import web_origin
from usage.events import EventKind, EventSource, UsageRecorder

#: ``request.state`` attribute an authentication dependency sets to the caller's member code.
STATE_MEMBER = "usage_member"


def requesting_member(scope: Scope, params: Mapping[str, list[str]], path: str) -> str | None:
    """The member a request is made for, when the request itself says so (see the module docstring)."""
    state = scope.get("state") or {}
    if state.get(STATE_MEMBER):
        return str(state[STATE_MEMBER])
    if path.startswith(("/go/", "/widget/")):
        given = params.get("member") or []
        if len(given) == 1 and given[0].strip():
            return given[0].strip().upper()
    return None


def _origin(headers: Mapping[str, str]) -> str | None:
    if origin := headers.get("origin"):
        return web_origin(origin)
    if referer := headers.get("referer"):
        parts = urlsplit(referer)
        return web_origin(f"{parts.scheme}://{parts.netloc}") if parts.scheme and parts.netloc else None
    return None


#: Paths (exact, or prefixes ending in ``/``) whose requests :func:`classify` may count.
COUNTED_PATHS = frozenset({"/search", "/", "/widget/search", "/lookup"})
COUNTED_PREFIXES = ("/go/", "/record/", "/records/", "/works/")


def may_count(path: str) -> bool:
    """Whether a request to ``path`` may be usage (what the guard resolves a client key for)."""
    return path in COUNTED_PATHS or path.startswith(COUNTED_PREFIXES)


def classify(
    path: str, params: Mapping[str, list[str]], status: int, cross_origin: bool
) -> tuple[EventKind, EventSource, str | None] | None:
    """What a request counts as (kind, source, item), or None when it is not counted."""
    if path.startswith("/go/"):
        if status not in (302, 303):
            return None
        return "request", "widget" if params.get("member") else "page", path[4:]
    if status >= 300:
        return None
    if path == "/search":
        return "search", "api", None
    if path == "/":
        return ("search", "page", None) if (params.get("q") or [""])[0].strip() else None
    if path == "/widget/search":
        return ("search", "widget", None) if (params.get("q") or [""])[0].strip() else None
    if path == "/lookup":
        return "lookup", "widget" if cross_origin else "api", None
    if path.startswith("/record/"):
        return "view", "page", path[8:]
    if path.startswith("/records/") and not path.endswith("/raw"):
        return "view", "api", path[9:]
    if path.startswith("/works/"):
        return "view", "api", f"work:{path[7:]}"
    return None


class UsageMiddleware:
    """Counts each answered request that is usage, after the answer is sent (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, send_status)
        recorder: UsageRecorder | None = getattr(scope["app"].state, "usage_recorder", None)
        if recorder is None or not recorder.enabled:
            return
        self._count(recorder, scope, status)

    @staticmethod
    def _count(recorder: UsageRecorder, scope: Scope, status: int) -> None:
        path: str = scope["path"]
        raw_query: bytes = scope.get("query_string", b"")
        params = parse_qs(raw_query.decode("latin-1")) if raw_query else {}
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        origin = _origin(headers)
        host = headers.get("host", "")
        cross_origin = origin is not None and urlsplit(origin).netloc != host
        counted = classify(path, params, status, cross_origin)
        if counted is None:
            return
        kind, source, item = counted
        client: Any = scope.get("client") or ("", 0)
        recorder.record(
            kind,
            source,
            client=str(client[0]),
            user_agent=headers.get("user-agent", ""),
            item=item,
            member=requesting_member(scope, params, path),
            origin=origin if cross_origin else None,
            key=raw_query.decode("latin-1") if item is None else None,
        )


async def start_usage(app: Any, recorder: UsageRecorder) -> None:
    """Start writing usage events (the app's lifespan, at start-up)."""
    app.state.usage_recorder = recorder
    await recorder.start()


async def stop_usage(app: Any) -> None:
    """Write every queued usage event (the app's lifespan, at shutdown)."""
    recorder: UsageRecorder | None = getattr(app.state, "usage_recorder", None)
    if recorder is not None:
        await recorder.close()

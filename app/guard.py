"""The request guards in front of every route: admin body types and audit log, public rate limits, CORS.

* ``/admin``: a request with a body must send JSON (415 otherwise: a form or ``text/plain`` post
  from another site is refused before any route runs); the upload route also takes multipart or a
  raw body, the sign-in form a urlencoded one. Every admin action, and every refused admin request,
  is written to the audit log with who (set by the auth dependency), what, when and the outcome.
* Public searches are rate-limited per client address (behind ``LIENHOP_TRUSTED_PROXIES``, the one
  ``X-Forwarded-For`` names), or per member for a client key; loopback is exempt unless configured.
  The buckets are shared by every worker of the server (``app.rate_limit``).
* CORS answers only the public read routes: admin routes send no ``Access-Control-*`` header.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.errors import LienhopError
from schemas.settings import Settings

from .auth import AUDIT_SCOPE_KEY, Authenticator, client_address, is_loopback
from .errors import UnsupportedMediaType, error_response
from .metrics import MULTIPROC_ENV
from .rate_limit import RateLimiter
from .usage_events import STATE_MEMBER, may_count

log = logging.getLogger(__name__)

#: Paths of the public search (API, pages, widget, OpenSearch suggestions) that the rate limit counts.
RATE_LIMITED = frozenset(
    {"/search", "/autocomplete", "/lookup", "/", "/widget/search", "/opensearch/suggestions"}
)

_UPLOAD_TYPES = frozenset(
    {
        "multipart/form-data",
        "application/octet-stream",
        "application/marc",
        "application/marcxml+xml",
        "application/xml",
        "text/xml",
        # COUNTER report files (tabular R5/R5.1)
        "text/tab-separated-values",
        "text/csv",
    }
)
_UPLOAD_PATHS = ("/admin/import/", "/admin/usage/import/")
_FORM_PATHS = frozenset({"/admin/sign-in", "/admin/sign-out"})
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def _media_type(scope: Scope) -> tuple[str, bool]:
    """The request's media type (lower case, no parameters) and whether it has a body."""
    headers = dict(scope.get("headers") or [])
    media = headers.get(b"content-type", b"").decode("latin-1").split(";", 1)[0].strip().lower()
    length = headers.get(b"content-length", b"0").decode("latin-1").strip()
    has_body = b"transfer-encoding" in headers or (length not in {"", "0"})
    return media, has_body


def body_refusal(scope: Scope) -> str | None:
    """Why an admin request's body is refused (415), or None."""
    if scope["method"] not in _WRITES:
        return None
    media, has_body = _media_type(scope)
    path: str = scope["path"]
    if not media:
        return "send the body as application/json" if has_body else None
    if media == "application/json" or media.endswith("+json"):
        return None
    if path.startswith(_UPLOAD_PATHS) and media in _UPLOAD_TYPES:
        return None
    if path in _FORM_PATHS and media == "application/x-www-form-urlencoded":
        return None
    return f"{media} is not accepted here: send application/json"


class Guard:
    """Pure ASGI middleware (no buffering of bodies: uploads stream through untouched)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        # Under ``lienhop serve`` the buckets live beside the metrics files, in the folder every worker
        # shares (``app.rate_limit`` says why there): the limit holds across the workers.
        shared = os.environ.get(MULTIPROC_ENV)
        self.limiter = RateLimiter(settings.rate_limit, Path(shared) if shared else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif is_admin_path(scope["path"]):
            await self._admin(scope, receive, send)
        elif scope["path"] in RATE_LIMITED and self.limiter.count:
            await self._limited(scope, receive, send)
        elif may_count(scope["path"]) and _has_authorization(scope):
            await self._attributed(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        holder: dict[str, Any] = {}
        scope[AUDIT_SCOPE_KEY] = holder
        status = 500
        detail = ""

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            refusal = body_refusal(scope)
            if refusal is not None:
                detail = refusal
                await error_response(UnsupportedMediaType(refusal))(scope, receive, send_status)
            else:
                await self.app(scope, receive, send_status)
        finally:
            if scope["method"] in _WRITES or status in {401, 403, 415, 429}:
                await self._audit(scope, holder, status, detail or str(holder.get("detail", "")))

    async def _audit(self, scope: Scope, holder: dict[str, Any], status: int, detail: str) -> None:
        state = getattr(scope.get("app"), "state", None)
        ctx = getattr(state, "lienhop", None)
        if ctx is None:
            return
        auth: Authenticator | None = getattr(state, "auth", None)
        trusted = auth.trusted if auth is not None else []
        outcome = "ok" if status < 400 else ("refused" if status in {401, 403, 415, 429} else "failed")
        action = f"{scope['method']} {scope['path']}"
        principal = holder.get("principal")
        try:
            await ctx.store.audit(
                principal if principal is not None else "anonymous",
                action,
                outcome,
                status,
                detail,
                client_address(HTTPConnection(scope), trusted),
            )
        except Exception:  # the answer is already sent; the log of it must not turn it into a 500
            log.exception("could not write the audit entry for %s", action)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        conn = HTTPConnection(scope)
        auth: Authenticator | None = getattr(getattr(scope.get("app"), "state", None), "auth", None)
        if auth is None:  # lifespan not run (no app state): nothing to count against
            await self.app(scope, receive, send)
            return
        try:
            principal = await auth.public(conn)
            if principal is None:
                address = client_address(conn, auth.trusted)
                if not is_loopback(address) or self.settings.rate_limit_loopback:
                    self.limiter.hit(f"address:{address}")
            elif principal.scope == "client":
                self.limiter.hit(f"member:{principal.member}")
                # the member's link resolver, OPAC or widget: its use is counted as that member's
                scope.setdefault("state", {})[STATE_MEMBER] = principal.member
            # admin and curator keys are not counted: they are the consortium's own tools
        except LienhopError as exc:
            await error_response(exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _attributed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request that is not rate-limited (a record or work fetched, a link-out; any search when
        the limit is off) made with a member's client key counts as that member's use too. These
        routes need no key, so a key that is not valid is ignored here, as the routes ignore it."""
        auth: Authenticator | None = getattr(getattr(scope.get("app"), "state", None), "auth", None)
        if auth is not None:
            try:
                principal = await auth.public(HTTPConnection(scope))
            except LienhopError:
                principal = None
            if principal is not None and principal.scope == "client":
                scope.setdefault("state", {})[STATE_MEMBER] = principal.member
        await self.app(scope, receive, send)


def _has_authorization(scope: Scope) -> bool:
    return any(name == b"authorization" for name, _ in scope.get("headers", ()))


class PublicCORS(CORSMiddleware):
    """CORS for the public read routes only: member OPACs call ``/lookup`` from the widget."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_admin_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

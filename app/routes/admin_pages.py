"""Admin pages for a browser: ``/admin/sign-in`` takes a key and sets a signed session cookie
(HttpOnly, SameSite=Strict, Secure behind HTTPS); ``/admin/`` shows who is signed in, the jobs and,
for an admin, the audit log. The cookie is accepted by these pages only, never by the admin API.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..auth import SESSION_COOKIE, SESSION_SECONDS
from ..deps import AuthDep, ContextDep, note_principal
from ..errors import Forbidden, Unauthorized
from ..web_support import render

router = APIRouter(prefix="/admin", include_in_schema=False)

_MAX_FORM = 4096


def _secure(request: Request, public_url: str) -> bool:
    """Whether the cookie must be Secure: the site is served over HTTPS (directly or behind a proxy)."""
    return request.url.scheme == "https" or public_url.startswith("https://")


def _same_origin(request: Request) -> bool:
    """A sign-in posted by our own form, not by another site's (login CSRF)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        return False
    origin = request.headers.get("origin")
    return origin is None or origin.partition("://")[2] == request.headers.get("host", "")


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> HTMLResponse:
    return render(request, "admin_sign_in.html", {"error": None})


@router.post("/sign-in", response_model=None)
async def sign_in(request: Request, auth: AuthDep, ctx: ContextDep) -> Response:
    """Check the key posted by the form; a good admin or curator key gets a session cookie."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            return render(request, "admin_sign_in.html", {"error": "The form is too large."}, 413)
    key = (parse_qs(body.decode("utf-8", "replace")).get("key") or [""])[0].strip()
    try:
        if not _same_origin(request):
            raise Forbidden("sign in from this site's own form")
        if not key:
            raise Unauthorized("give a key")
        principal = await auth.from_key(key)
        note_principal(request, principal)
        if principal.scope == "client":
            raise Forbidden("a client key cannot sign in to the admin pages")
    except (Unauthorized, Forbidden) as exc:
        return render(request, "admin_sign_in.html", {"error": exc.detail}, exc.status)
    response = RedirectResponse("/admin/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        auth.session_value(principal),
        max_age=SESSION_SECONDS,
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=_secure(request, ctx.settings.public_url),
    )
    return response


@router.post("/sign-out")
async def sign_out() -> RedirectResponse:
    response = RedirectResponse("/admin/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


@router.get("/", response_class=HTMLResponse, response_model=None)
async def overview(request: Request, auth: AuthDep, ctx: ContextDep) -> Response:
    """Who is signed in, the latest jobs (a curator's: its member's) and, for admins, the audit log."""
    try:
        principal = await auth.admin(request, allow_session=True)
    except Unauthorized:
        return RedirectResponse("/admin/sign-in", status_code=303)
    if principal.scope == "client":
        return RedirectResponse("/admin/sign-in", status_code=303)
    member = None if principal.scope == "admin" else principal.member
    jobs = await ctx.jobs.list(member=member, limit=20)
    audit = await ctx.store.list_audit(limit=30) if principal.scope == "admin" else []
    return render(request, "admin.html", {"principal": principal, "jobs": jobs, "audit": audit})

"""Who a request acts as: API keys, the bootstrap token, the loopback operator, browser sessions.

Admin API routes take credentials from the ``Authorization: Bearer`` header only; a browser's admin
pages take a signed session cookie set by the sign-in form. With no admin key or token configured,
admin routes answer only requests from a loopback address, and not those a web page made (an
``Origin``, a cross-site ``Sec-Fetch-Site`` or a ``Host`` that is not loopback: CSRF and DNS rebinding)
nor those a reverse proxy on the same machine passed on (they carry ``X-Forwarded-For`` and the like).

The secret that signs sessions and search cursors is ``LIENHOP_SECRET_KEY``, or one generated once
into the data folder, so restarts and every worker of a server share it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

from starlette.requests import HTTPConnection

from schemas.auth import ApiKey, Principal
from schemas.settings import Settings
from store.front import RecordStore

from .errors import Unauthorized

log = logging.getLogger(__name__)

SESSION_COOKIE = "lienhop_session"
#: Key of the request scope where the principal is left for the audit log (``app.guard``).
AUDIT_SCOPE_KEY = "lienhop.audit"
SESSION_SECONDS = 12 * 3600
BOOTSTRAP = "bootstrap"
LOOPBACK = "loopback"
_HOW_TO = "make an admin key with `lienhop keys create --scope admin --label NAME`"


# ---------------------------------------------------------------------------- the secret


def load_secret(settings: Settings) -> bytes:
    """``LIENHOP_SECRET_KEY``, else the data folder's ``secret_key`` file, made on first use.

    The file is written under a temporary name and linked into place, so processes starting together
    agree on one secret (the loser of the race reads the winner's).
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.home / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip().encode()


# ---------------------------------------------------------------------------- addresses


Network = IPv4Network | IPv6Network


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is a loopback IP address (``testclient`` and names are not)."""
    try:
        address = ip_address((host or "").strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def parse_networks(value: str) -> list[Network]:
    return [ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]


def _in(host: str, networks: list[Network]) -> bool:
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


def client_address(conn: HTTPConnection, trusted: list[Network]) -> str:
    """The client's address: the peer's, or, behind a trusted proxy, the first untrusted address of
    ``X-Forwarded-For`` read from the right (entries further left are what the client claims)."""
    peer = conn.client.host if conn.client else ""
    if not trusted or not _in(peer, trusted):
        return peer
    forwarded = [p.strip() for p in conn.headers.get("x-forwarded-for", "").split(",") if p.strip()]
    for hop in reversed(forwarded):
        if not _in(hop, trusted):
            return hop
    return forwarded[0] if forwarded else peer


_FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def _forwarded(conn: HTTPConnection) -> bool:
    """Whether a proxy passed the request on: then loopback is the proxy, not the client."""
    return any(name in conn.headers for name in _FORWARDING_HEADERS)


_LOOPBACK_NAMES = re.compile(r"^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$", re.IGNORECASE)


def from_a_web_page(conn: HTTPConnection) -> bool:
    """Whether a browser sent this on behalf of a page that is not a loopback origin.

    Command-line clients send none of these headers. A browser sends ``Sec-Fetch-Site`` (and
    ``Origin`` on posts); after DNS rebinding the origin is the attacker's name, so ``Host`` is too.
    """
    headers = conn.headers
    site = headers.get("sec-fetch-site")
    origin = headers.get("origin")
    if site is None and origin is None:
        return False
    if site is not None and site not in {"same-origin", "none"}:
        return True
    if origin is not None and not _LOOPBACK_NAMES.match(origin.partition("://")[2]):
        return True
    return not _LOOPBACK_NAMES.match(headers.get("host", ""))


# ---------------------------------------------------------------------------- sessions


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, purpose: str, payload: bytes) -> str:
    """``payload`` with an HMAC bound to ``purpose`` (a session is not a cursor)."""
    mac = hmac.new(secret, purpose.encode() + b"\x00" + payload, hashlib.sha256).digest()[:20]
    return f"{_b64(payload)}.{_b64(mac)}"


def unsign(secret: bytes, purpose: str, value: str) -> bytes | None:
    """The payload of a value made by :func:`sign`, or None for anything else."""
    body, _, mac = value.partition(".")
    try:
        payload, given = _unb64(body), _unb64(mac)
    except ValueError:
        return None
    expected = hmac.new(secret, purpose.encode() + b"\x00" + payload, hashlib.sha256).digest()[:20]
    return payload if hmac.compare_digest(given, expected) else None


# ---------------------------------------------------------------------------- authentication


class Authenticator:
    """Turns a request's credentials into a :class:`Principal`, or refuses them."""

    def __init__(self, settings: Settings, store: RecordStore, secret: bytes) -> None:
        self.settings = settings
        self.store = store
        self.secret = secret
        self.trusted = parse_networks(settings.trusted_proxies)
        self._admin_known: tuple[float, bool] = (0.0, False)
        self._touched: dict[int, float] = {}

    # -- what is configured
    async def admin_key_configured(self) -> bool:
        """Whether an admin token or a usable admin key exists (looked up at most every 5 s)."""
        if self.settings.admin_token:
            return True
        checked, known = self._admin_known
        if time.monotonic() - checked > 5.0 or not known:
            known = await self.store.has_admin_key(datetime.now(UTC).date())
            self._admin_known = (time.monotonic(), known)
        return known

    # -- credentials
    def bearer(self, conn: HTTPConnection) -> str | None:
        """The token of an ``Authorization: Bearer`` header; a header of another form is refused."""
        header = conn.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("give the key as `Authorization: Bearer <key>`")
        return token.strip()

    async def from_key(self, token: str) -> Principal:
        """The principal of a key or the bootstrap token; 401 for anything else. Never logs the key."""
        admin_token = self.settings.admin_token
        if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
            return Principal(who=BOOTSTRAP, scope="admin")
        key = await self.store.find_key(token)
        if key is None:
            raise Unauthorized("unknown key")
        self._usable(key)
        await self._touch(key.id)
        return principal_of(key)

    def _usable(self, key: ApiKey) -> None:
        if key.revoked is not None:
            raise Unauthorized(f"key {key.id} was revoked")
        if key.expires is not None and key.expires < datetime.now(UTC).date():
            raise Unauthorized(f"key {key.id} expired on {key.expires}")

    async def _touch(self, key_id: int) -> None:
        # ``last_used`` to the minute: a write per request would serialise every admin call on SQLite
        now = time.monotonic()
        if now - self._touched.get(key_id, -120.0) > 60.0:
            self._touched[key_id] = now
            await self.store.touch_key(key_id, datetime.now(UTC))

    async def admin(self, conn: HTTPConnection, allow_session: bool = False) -> Principal:
        """Who an admin request acts as: its key, its session (admin pages only) or, with no admin
        key configured, the loopback operator. Raises :class:`Unauthorized`."""
        token = self.bearer(conn)
        if token is not None:
            return await self.from_key(token)
        if allow_session:
            session = await self.from_session(conn.cookies.get(SESSION_COOKIE))
            if session is not None:
                return session
        if await self.admin_key_configured():
            raise Unauthorized("this endpoint needs a key: `Authorization: Bearer <key>`")
        if not is_loopback(conn.client.host if conn.client else None) or _forwarded(conn):
            raise Unauthorized(
                f"no admin key is configured, so admin routes answer only on loopback; {_HOW_TO}"
            )
        if from_a_web_page(conn):
            raise Unauthorized("a web page may not use the admin routes without a key")
        return Principal(who=LOOPBACK, scope="admin")

    async def public(self, conn: HTTPConnection) -> Principal | None:
        """The principal of a public request carrying a key (a member's client key), else None."""
        token = self.bearer(conn)
        return None if token is None else await self.from_key(token)

    # -- sessions
    def session_value(self, principal: Principal) -> str:
        """A signed cookie value naming the key (re-checked on every request) or the bootstrap token."""
        subject: Any = principal.key_id if principal.key_id is not None else BOOTSTRAP
        payload = {"k": subject, "e": int(time.time()) + SESSION_SECONDS, "t": self._token_tag()}
        return sign(self.secret, "session", json.dumps(payload, separators=(",", ":")).encode())

    def _token_tag(self) -> str:
        # a session made with the bootstrap token ends when the token changes
        token = self.settings.admin_token or ""
        return hashlib.sha256(self.secret + token.encode()).hexdigest()[:16]

    async def from_session(self, value: str | None) -> Principal | None:
        if not value or len(value) > 512:
            return None
        payload = unsign(self.secret, "session", value)
        if payload is None:
            return None
        try:
            data = json.loads(payload)
            subject, expires = data["k"], int(data["e"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < time.time():
            return None
        if subject == BOOTSTRAP:
            if not self.settings.admin_token or data.get("t") != self._token_tag():
                return None
            return Principal(who=BOOTSTRAP, scope="admin")
        if not isinstance(subject, int):
            return None
        try:
            key = await self.store.get_key(subject)
            self._usable(key)
        except Exception:  # NotFound, revoked, expired: no session
            return None
        return principal_of(key)


def principal_of(key: ApiKey) -> Principal:
    return Principal(who=f"key {key.id} ({key.label})", scope=key.scope, member=key.member, key_id=key.id)


# ---------------------------------------------------------------------------- logs


_SECRET_IN_URL = re.compile(r"((?:api_key|key|token)=)[^&\s\"]+", re.IGNORECASE)
_SECRET_IN_TEXT = re.compile(r"(lhk_)[A-Za-z0-9_-]+|(Bearer\s+)\S+")


class RedactKeys(logging.Filter):
    """Removes keys from log records: a query parameter named like one, a ``lhk_`` key, a bearer token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        return True


def _redact(text: str) -> str:
    text = _SECRET_IN_URL.sub(r"\1[redacted]", text)
    return _SECRET_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


def install_log_redaction() -> None:
    """Filter the access log, the one log that prints what clients send (idempotent). Our own
    messages never include a key."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactKeys) for f in logger.filters):
        logger.addFilter(RedactKeys())

"""The SUSHI client: one COUNTER report of one member for one month, asked of a vendor's server.

The server is an outside address and treated as hostile until its answer is read: every request has a
connect/read timeout and an overall deadline (a server dripping bytes cannot hold a run), the body is
capped at ``max_response_bytes`` while it streams in, redirects are followed only on the same host
(the request carries the member's credentials), and the credentials never reach a log or an error
message: SUSHI puts them in the query string, so every URL we write down is written without it, and
httpx's own request log is filtered the same way.

celus-nigiri's ``Sushi5Client`` is not used: it is synchronous (requests), sets no timeout, sends a
browser's User-Agent and reads proxies from the environment (docs/usage-reports.md). The
``attributes_to_show`` asked of each master report are the ones its report classes ask for.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from schemas.settings import Settings
from schemas.usage import UsageDatabase

from .registry import Credentials

#: The overall deadline of one request, as a multiple of ``request_timeout`` (which bounds each wait).
DEADLINE_FACTOR = 5
MAX_REDIRECTS = 3
SECRET_PARAMS = frozenset({"customer_id", "requestor_id", "api_key"})

#: Attributes asked of the master reports, so Regular use can be told from text and data mining.
_ATTRIBUTES = {
    "5": {"DR": "Access_Method|Data_Type", "TR": "YOP|Access_Method|Access_Type|Data_Type|Section_Type",
          "PR": "Access_Method|Data_Type"},
    "5.1": {"DR": "Access_Method", "TR": "YOP|Access_Method|Access_Type", "PR": "Access_Method"},
}  # fmt: skip


class SushiTransportError(Exception):
    """No usable answer (connection, timeout, size cap, redirect); the message names no credential."""


@dataclass(frozen=True)
class SushiAnswer:
    status: int
    body: bytes
    retry_after: float | None = None


def safe_url(url: str | httpx.URL) -> str:
    """``url`` without its query string: what may be logged or recorded."""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class _HideCredentials(logging.Filter):
    """Rewrites httpx's ``HTTP Request: GET <url>`` log lines so no SUSHI credential is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(_has_secret(a) for a in record.args):
            record.args = tuple(safe_url(str(a)) + "?…" if _has_secret(a) else a for a in record.args)
        return True


def _has_secret(value: Any) -> bool:
    if not isinstance(value, httpx.URL | str):
        return False
    query = urlsplit(str(value)).query
    return any(f"{name}=" in query for name in SECRET_PARAMS)


_httpx_log = logging.getLogger("httpx")
if not any(isinstance(f, _HideCredentials) for f in _httpx_log.filters):
    _httpx_log.addFilter(_HideCredentials())


def report_params(
    database: UsageDatabase, credentials: Credentials, report_id: str, month: date
) -> dict[str, str]:
    last = calendar.monthrange(month.year, month.month)[1]
    params = credentials.params()
    params["begin_date"] = month.replace(day=1).isoformat()
    params["end_date"] = month.replace(day=last).isoformat()
    if attributes := _ATTRIBUTES[database.release].get(report_id):
        params["attributes_to_show"] = attributes
    return params


def retry_after(value: str | None, cap: float) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds, at most ``cap``."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, cap))


class SushiClient:
    """Asks SUSHI servers for reports; one per harvest run (it holds the HTTP connections)."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._own = http is None
        self.http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.request_timeout),
            headers={"User-Agent": settings.user_agent, "Accept": "application/json"},
            follow_redirects=False,
        )

    async def close(self) -> None:
        if self._own:
            await self.http.aclose()

    async def get_report(
        self, database: UsageDatabase, credentials: Credentials, report_id: str, month: date
    ) -> SushiAnswer:
        url = f"{database.sushi_url}/reports/{report_id.lower()}"
        params = report_params(database, credentials, report_id, month)
        deadline = self.settings.request_timeout * DEADLINE_FACTOR
        try:
            async with asyncio.timeout(deadline):
                return await self._get(url, params)
        except TimeoutError as exc:
            raise SushiTransportError(
                f"no complete answer from {safe_url(url)} within {deadline:g} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise SushiTransportError(f"{type(exc).__name__} from {safe_url(url)}") from exc

    async def _get(self, url: str, params: dict[str, str] | None) -> SushiAnswer:
        host = urlsplit(url).hostname
        for _ in range(MAX_REDIRECTS + 1):
            async with self.http.stream("GET", url, params=params) as response:
                if response.is_redirect:
                    target = urljoin(str(response.url), response.headers.get("location", ""))
                    if urlsplit(target).hostname != host or urlsplit(target).scheme not in {"http", "https"}:
                        raise SushiTransportError(
                            f"{safe_url(url)} redirected to another host ({safe_url(target)}); not followed"
                        )
                    url, params = target, None  # the Location carries the query the server wants
                    continue
                body = await self._read_capped(response, url)
                wait = retry_after(response.headers.get("retry-after"), self.settings.max_retry_after)
                return SushiAnswer(response.status_code, body, wait)
        raise SushiTransportError(f"more than {MAX_REDIRECTS} redirects from {safe_url(url)}")

    async def _read_capped(self, response: httpx.Response, url: str) -> bytes:
        cap = self.settings.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise SushiTransportError(f"{safe_url(url)} announced {declared} bytes, more than the cap {cap}")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body.extend(chunk)
            if len(body) > cap:
                raise SushiTransportError(f"{safe_url(url)} sent more than the cap of {cap} bytes")
        return bytes(body)

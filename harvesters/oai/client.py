"""An async OAI-PMH 2.0 client on httpx and the hardened lxml parser.

Why not sickle: sickle is the usual Python OAI-PMH client, but it is synchronous (built on
``requests``), so harvesting forty members at once would need forty threads; it retries a 503 only
after a fixed wait and cannot honour a ``Retry-After`` given as an HTTP date or cap a long one; it has
no notion of a per-host concurrency limit, so several sets of one repository would hit the same
server in parallel; it parses with lxml's default parser settings, with no size cap while the body
streams in and no refusal of DTD/entity payloads; and it hides the resumptionToken inside an
iterator, where a harvester that must checkpoint every page durably needs the token of each page in
hand. This client is a thin layer over httpx's async streaming and ``harvesters.xml``: one request per
call, the page and its token returned together, faults retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from lxml import etree

from schemas.errors import HarvestError, UnsafeXML
from schemas.settings import Settings

from ..outbound import OutboundPolicy, PinnedTransport
from ..xml import MalformedXML
from .errors import (
    DeadlineExceeded,
    ListOverrun,
    MalformedPage,
    NoRecordsMatch,
    NoSetHierarchy,
    RefusedAddress,
    ResumptionTokenLoop,
)
from .protocol import (
    ListVerb,
    MetadataFormat,
    Page,
    RepositoryInfo,
    Response,
    SetInfo,
    children,
    list_params,
    metadata_formats,
    oai_query,
    page_from_response,
    read_response,
    repository_info,
    set_info,
)

# answers that may heal by themselves; any other 4xx (and a refused URL) fails at once
_RETRY_STATUS = {500, 502, 503, 504, 429, 408}

log = logging.getLogger(__name__)


class Decoded(Protocol):
    """What :meth:`OAIClient.request_with` needs of a decoded response."""

    @property
    def cleaned(self) -> bool:
        """Whether illegal characters had to be removed before the body parsed."""
        ...


DecodedT = TypeVar("DecodedT", bound=Decoded)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header (delta seconds or HTTP-date) in seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds: float = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds)


class HostLimiter:
    """One semaphore per host, shared by every client of one harvest (politeness towards servers)."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    @classmethod
    def shared(cls, per_host: int) -> HostLimiter:
        """The limiter of every harvest running in this process (on this event loop), so that
        harvests started separately (one scheduled job per member) are polite together."""
        loop = asyncio.get_running_loop()
        limiter = _SHARED.get(loop)
        if limiter is None or limiter.per_host != per_host:
            limiter = _SHARED[loop] = cls(per_host)
        return limiter

    def for_url(self, url: str) -> asyncio.Semaphore:
        host = urlsplit(url).netloc.lower()
        sem = self._semaphores.get(host)
        if sem is None:
            sem = self._semaphores[host] = asyncio.Semaphore(self.per_host)
        return sem


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HostLimiter] = weakref.WeakKeyDictionary()


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """The shared HTTP client of a harvest: User-Agent, timeouts, the outbound policy.

    Connections go through :class:`~harvesters.outbound.PinnedTransport` (every address checked, the
    checked one connected to); redirects are followed by :meth:`OAIClient._fetch_once`, which checks
    each target's scheme and counts them.
    """
    limits = httpx.Limits(max_connections=max(10, settings.harvest_concurrency * 2))
    return httpx.AsyncClient(
        headers={"User-Agent": settings.user_agent, "Accept": "text/xml, application/xml;q=0.9, */*;q=0.1"},
        timeout=httpx.Timeout(settings.request_timeout),
        follow_redirects=False,
        transport=PinnedTransport(OutboundPolicy.from_settings(settings), limits),
        trust_env=False,
    )


class OAIClient:
    """One repository's OAI-PMH interface. Cheap to create; share the httpx client and the limiter."""

    def __init__(
        self,
        base_url: str,
        settings: Settings,
        http: httpx.AsyncClient,
        limiter: HostLimiter | None = None,
    ) -> None:
        self.base_url = base_url
        self.settings = settings
        self.http = http
        self.limiter = limiter or HostLimiter(settings.per_host_concurrency)
        self.policy = OutboundPolicy.from_settings(settings)
        self.requests = 0  # HTTP requests sent, retries included
        self.cleaned_pages = 0  # responses that needed illegal characters removed

    # ------------------------------------------------------------------ transport

    async def _fetch_once(self, params: Mapping[str, str]) -> tuple[int, httpx.Headers, bytes]:
        """One request, its redirects followed, within ``request_deadline`` in all (not per read)."""
        async with self.limiter.for_url(self.base_url):
            self.requests += 1
            async with asyncio.timeout(self.settings.request_deadline):
                request = self.http.build_request("GET", self.base_url, params=params)
                for _ in range(self.settings.max_redirects + 1):
                    self.policy.check_scheme(str(request.url))
                    resp = await self.http.send(request, stream=True)
                    try:
                        location = resp.headers.get("location") if resp.is_redirect else None
                        if location is None:
                            return resp.status_code, resp.headers, await self._read_body(resp)
                    finally:
                        await resp.aclose()
                    try:
                        target = request.url.join(location)
                    except httpx.InvalidURL as exc:
                        raise RefusedAddress(f"{request.url} redirects to an invalid URL: {exc}") from exc
                    request = self.http.build_request("GET", target)
                hops = self.settings.max_redirects
                raise RefusedAddress(f"{self.base_url} redirects more than {hops} times")
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_body(self, resp: httpx.Response) -> bytes:
        cap = self.settings.max_response_bytes
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap and resp.status_code < 400:
            raise UnsafeXML(f"response of {declared} bytes exceeds the cap of {cap}")
        chunks: list[bytes] = []
        size = 0
        # counted after decompression, so a gzip bomb is stopped too
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise UnsafeXML(f"response exceeds the cap of {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _delay(self, attempt: int) -> float:
        return self.settings.backoff_base * 2.0**attempt

    async def fetch(self, params: Mapping[str, str]) -> bytes:
        """GET the base URL with ``params`` within ``page_deadline``; what may heal (no connection,
        no complete answer within ``request_deadline``, 5xx, 408, 429) is retried with backoff."""
        try:
            async with asyncio.timeout(self.settings.page_deadline):
                return await self._fetch_retrying(params)
        except TimeoutError:
            raise DeadlineExceeded(
                f"{self.base_url}: no answer within the page deadline ({self.settings.page_deadline:g} s)"
            ) from None

    async def _fetch_retrying(self, params: Mapping[str, str]) -> bytes:
        retries = self.settings.max_retries
        last: str = ""
        for attempt in range(retries + 1):
            try:
                status, headers, body = await self._fetch_once(params)
            except (httpx.TransportError, TimeoutError) as exc:
                # refused, filtered, closed, silent, trickling, not HTTP: the same word for all of them,
                # so that member URLs cannot be used to scan ports (the detail goes to the log only)
                log.info("%s: attempt %d: %s", self.base_url, attempt + 1, f"{type(exc).__name__}: {exc}")
                last = "unreachable"
                if attempt < retries:
                    await asyncio.sleep(self._delay(attempt))
                continue
            if status < 400:
                return body
            last = f"HTTP {status}"
            if status not in _RETRY_STATUS:
                raise HarvestError(f"{self.base_url} answered HTTP {status}")
            if attempt >= retries:
                break
            delay = self._delay(attempt)
            wait = retry_after_seconds(headers.get("retry-after"))
            if wait is not None and status in (503, 429):
                delay = min(wait, self.settings.max_retry_after)
            await asyncio.sleep(delay)
        raise HarvestError(f"{self.base_url} failed after {retries + 1} attempts: {last}")

    async def request(self, verb: str, **params: str | None) -> Response:
        """One OAI-PMH request: fetched, parsed safely, OAI errors raised as exceptions.

        A response that is not well-formed even after cleaning is fetched again a couple of times
        (a truncated body is often a passing fault) before :class:`MalformedPage` is raised.
        """

        async def decode(data: bytes) -> Response:
            return read_response(verb, data)

        return await self.request_with(verb, decode, params)

    async def request_with(
        self,
        verb: str,
        decode: Callable[[bytes], Awaitable[DecodedT]],
        params: Mapping[str, str | None],
        prefetched: Awaitable[bytes] | None = None,
    ) -> DecodedT:
        """:meth:`request` with the parsing done by ``decode`` (e.g. in a parse worker).

        ``decode`` turns the body into a result as :func:`~.protocol.read_response` would, raising
        what it raises (:class:`~schemas.errors.UnsafeXML`, :class:`MalformedXML`,
        :class:`MalformedPage`, OAI errors); fetching, the retries of malformed responses and
        ``cleaned_pages`` stay here. ``prefetched``, when given, is a :meth:`fetch` of this very
        query already under way: its body (or its error) stands for the first attempt's.

        All of it, the fetches ahead included, is bounded by ``page_deadline``
        (:class:`~.errors.DeadlineExceeded`).
        """
        try:
            async with asyncio.timeout(self.settings.page_deadline):
                return await self._request_with(verb, decode, params, prefetched)
        except TimeoutError:
            raise DeadlineExceeded(
                f"{self.base_url}: {verb} page not read within the page deadline "
                f"({self.settings.page_deadline:g} s)"
            ) from None

    async def _request_with(
        self,
        verb: str,
        decode: Callable[[bytes], Awaitable[DecodedT]],
        params: Mapping[str, str | None],
        prefetched: Awaitable[bytes] | None,
    ) -> DecodedT:
        query = oai_query(verb, params)
        attempts = min(2, self.settings.max_retries) + 1
        for attempt in range(attempts):
            try:
                if prefetched is not None and attempt == 0:
                    data = await prefetched
                else:
                    data = await self.fetch(query)
            except UnsafeXML as exc:
                raise MalformedPage(str(exc), b"", unsafe=True) from exc
            try:
                result = await decode(data)
            except UnsafeXML as exc:
                raise MalformedPage(str(exc), data, unsafe=True) from exc
            except MalformedXML as exc:
                if attempt + 1 < attempts:
                    await asyncio.sleep(self._delay(attempt))
                    continue
                raise MalformedPage(str(exc), data) from exc
            if result.cleaned:
                self.cleaned_pages += 1
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    # ---------------------------------------------------------------------- verbs

    async def identify(self) -> RepositoryInfo:
        """The repository's Identify answer."""
        return repository_info(await self.request("Identify"))

    async def list_metadata_formats(self, identifier: str | None = None) -> list[MetadataFormat]:
        return metadata_formats(await self.request("ListMetadataFormats", identifier=identifier))

    async def list_page(
        self,
        verb: ListVerb,
        metadata_prefix: str | None = None,
        set_spec: str | None = None,
        from_: str | None = None,
        until: str | None = None,
        token: str | None = None,
    ) -> Page:
        """One page of ListRecords, ListIdentifiers or ListSets; ``noRecordsMatch`` is an empty page."""
        params = list_params(verb, metadata_prefix, set_spec, from_, until, token)
        try:
            resp = await self.request(verb, **params)
        except NoRecordsMatch:
            return Page(verb=verb, items=[], token=None)
        return page_from_response(resp)

    async def iter_pages(
        self,
        verb: ListVerb,
        metadata_prefix: str | None = None,
        set_spec: str | None = None,
        from_: str | None = None,
        until: str | None = None,
        token: str | None = None,
    ) -> AsyncIterator[Page]:
        """Every page of a list, following resumption tokens; a token seen twice raises, and so do
        tokens that keep coming well past the declared ``completeListSize`` (see ``list_size_margin``)."""
        seen: set[str] = set()
        items = pages = 0
        while True:
            if token is not None:
                if token in seen:
                    raise ResumptionTokenLoop(f"{self.base_url} repeated resumptionToken {token!r}")
                seen.add(token)
            page = await self.list_page(verb, metadata_prefix, set_spec, from_, until, token)
            items, pages = items + len(page.items), pages + 1
            size = page.complete_list_size
            if page.token and size is not None:
                limit = size + max(self.settings.list_size_margin, size // 10)
                if items > limit or pages > limit:
                    raise ListOverrun(
                        f"{self.base_url}: {verb} declared completeListSize {size} but still hands out "
                        f"resumption tokens after {items} items in {pages} pages; listing abandoned"
                    )
            yield page
            if not page.token:
                return
            token = page.token

    async def list_sets(self) -> list[SetInfo]:
        """Every set of the repository (paged); none when it has no set hierarchy."""
        sets: list[SetInfo] = []
        with contextlib.suppress(NoSetHierarchy):
            async for page in self.iter_pages("ListSets"):
                sets.extend(set_info(item) for item in page.items)
        return sets

    async def list_identifiers(
        self,
        metadata_prefix: str,
        set_spec: str | None = None,
        from_: str | None = None,
        until: str | None = None,
    ) -> AsyncIterator[etree._Element]:
        """Every ``<header>`` of ListIdentifiers."""
        async for item in self._items("ListIdentifiers", metadata_prefix, set_spec, from_, until):
            yield item

    async def list_records(
        self,
        metadata_prefix: str,
        set_spec: str | None = None,
        from_: str | None = None,
        until: str | None = None,
    ) -> AsyncIterator[etree._Element]:
        """Every ``<record>`` of ListRecords."""
        async for item in self._items("ListRecords", metadata_prefix, set_spec, from_, until):
            yield item

    async def _items(
        self, verb: ListVerb, metadata_prefix: str, set_spec: str | None, from_: str | None, until: str | None
    ) -> AsyncIterator[etree._Element]:
        async for page in self.iter_pages(verb, metadata_prefix, set_spec, from_, until):
            for item in page.items:
                yield item

    async def get_record(self, identifier: str, metadata_prefix: str) -> etree._Element:
        """The ``<record>`` of GetRecord."""
        resp = await self.request("GetRecord", identifier=identifier, metadataPrefix=metadata_prefix)
        for item in children(resp.body, "record"):
            return item
        raise MalformedPage(f"GetRecord {identifier} returned no record", etree.tostring(resp.root))

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
import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from lxml import etree

from schemas.errors import BadResumptionToken, HarvestError, OAIError, UnsafeXML
from schemas.settings import Settings

from .xml import LOCAL_NAMES, MalformedXML, local_name, parse_xml, tag_local_name

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
LIST_VERBS = ("ListRecords", "ListIdentifiers", "ListSets")
_RETRY_STATUS = {500, 502, 503, 504, 429}


# ------------------------------------------------------------------------------------------ errors


class BadArgument(OAIError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("badArgument", detail)


class BadVerb(OAIError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("badVerb", detail)


class CannotDisseminateFormat(OAIError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("cannotDisseminateFormat", detail)


class IdDoesNotExist(OAIError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("idDoesNotExist", detail)


class NoRecordsMatch(OAIError):
    """Never raised to callers of the list verbs: there it means an empty, successful list."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("noRecordsMatch", detail)


class NoMetadataFormats(OAIError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("noMetadataFormats", detail)


class NoSetHierarchy(OAIError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("noSetHierarchy", detail)


OAI_ERRORS: dict[str, type[OAIError]] = {
    "badArgument": BadArgument,
    "badResumptionToken": BadResumptionToken,
    "badVerb": BadVerb,
    "cannotDisseminateFormat": CannotDisseminateFormat,
    "idDoesNotExist": IdDoesNotExist,
    "noRecordsMatch": NoRecordsMatch,
    "noMetadataFormats": NoMetadataFormats,
    "noSetHierarchy": NoSetHierarchy,
}


def oai_error(code: str, message: str = "") -> OAIError:
    """The exception for an OAI-PMH error code (a plain :class:`OAIError` for unknown codes)."""
    cls = OAI_ERRORS.get(code)
    if cls is None:
        return OAIError(code or "unknown", message)
    return cls(message)


class MalformedPage(HarvestError):
    """A response that could not be read (malformed or unsafe XML, or too large), with its bytes."""

    title = "Unreadable OAI-PMH response"

    def __init__(self, detail: str, raw: bytes = b"", unsafe: bool = False) -> None:
        super().__init__(detail)
        self.raw = raw
        self.unsafe = unsafe


class ResumptionTokenLoop(HarvestError):
    title = "Resumption token loop"


# ------------------------------------------------------------------------------------------ values


@dataclass(frozen=True)
class RepositoryInfo:
    """What Identify says about a repository."""

    name: str | None
    base_url: str | None
    protocol_version: str | None
    granularity: str
    earliest_datestamp: str | None
    deleted_record: str | None
    admin_emails: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> bool:
        """Whether the repository takes ``from``/``until`` with seconds (else days only)."""
        return "T" in self.granularity

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base_url": self.base_url,
            "protocol_version": self.protocol_version,
            "granularity": self.granularity,
            "earliest_datestamp": self.earliest_datestamp,
            "deleted_record": self.deleted_record,
            "admin_emails": self.admin_emails,
        }


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str | None
    namespace: str | None


@dataclass(frozen=True)
class SetInfo:
    spec: str
    name: str | None


@dataclass
class Page:
    """One response of a list verb: its items, the next token and what the token says."""

    verb: str
    items: list[etree._Element]
    token: str | None
    complete_list_size: int | None = None
    cursor: int | None = None
    cleaned: bool = False
    nbytes: int = 0


@dataclass
class Response:
    verb: str
    root: etree._Element
    body: etree._Element | None
    cleaned: bool
    nbytes: int


class Decoded(Protocol):
    """What :meth:`OAIClient.request_with` needs of a decoded response."""

    @property
    def cleaned(self) -> bool:
        """Whether illegal characters had to be removed before the body parsed."""
        ...


DecodedT = TypeVar("DecodedT", bound=Decoded)


# ----------------------------------------------------------------------------------- datestamps


_SPACE_SEPARATED = re.compile(r"^\d{4}-\d\d-\d\d \d")


def parse_datestamp(value: str | None) -> datetime | None:
    """An OAI datestamp (``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ssZ``, offsets tolerated) as UTC."""
    if value is None:
        return None
    text = value.strip()
    if len(text) == 20 and text[10] == "T" and text[19] == "Z":
        # the usual ``YYYY-MM-DDThh:mm:ssZ``, once per harvested record: straight to UTC
        try:
            parsed = datetime.fromisoformat(text[:19])
        except ValueError as exc:
            raise ValueError(f"invalid datestamp {value!r}") from exc
        if parsed.tzinfo is not None:  # "...T00+05:00Z": two zones
            raise ValueError(f"invalid datestamp {value!r}")
        return parsed.replace(tzinfo=UTC)
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = text.replace(" ", "T", 1) if _SPACE_SEPARATED.match(text) else text
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"invalid datestamp {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_datestamp(value: datetime, granularity: str = "YYYY-MM-DDThh:mm:ssZ") -> str:
    """``value`` at the repository's granularity, as ``from``/``until`` need it."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if "T" in granularity:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.strftime("%Y-%m-%d")


def other_granularity(granularity_or_stamp: str) -> str:
    """The OAI granularity that ``granularity_or_stamp`` (a granularity or a datestamp) is not."""
    return "YYYY-MM-DD" if "T" in granularity_or_stamp else "YYYY-MM-DDThh:mm:ssZ"


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
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


# ---------------------------------------------------------------------------------- politeness


class HostLimiter:
    """One semaphore per host, shared by every client of one harvest (politeness towards servers)."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    def for_url(self, url: str) -> asyncio.Semaphore:
        host = urlsplit(url).netloc.lower()
        sem = self._semaphores.get(host)
        if sem is None:
            sem = self._semaphores[host] = asyncio.Semaphore(self.per_host)
        return sem


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """The shared HTTP client of a harvest: User-Agent, timeouts, no cookies kept between members."""
    return httpx.AsyncClient(
        headers={"User-Agent": settings.user_agent, "Accept": "text/xml, application/xml;q=0.9, */*;q=0.1"},
        timeout=httpx.Timeout(settings.request_timeout),
        follow_redirects=True,
        limits=httpx.Limits(max_connections=max(10, settings.harvest_concurrency * 2)),
    )


# -------------------------------------------------------------------------------------- client


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
        self.requests = 0  # HTTP requests sent, retries included
        self.cleaned_pages = 0  # responses that needed illegal characters removed

    # ------------------------------------------------------------------ transport

    async def _fetch_once(self, params: Mapping[str, str]) -> tuple[int, httpx.Headers, bytes]:
        cap = self.settings.max_response_bytes
        async with self.limiter.for_url(self.base_url):
            self.requests += 1
            async with self.http.stream("GET", self.base_url, params=params) as resp:
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
                return resp.status_code, resp.headers, b"".join(chunks)

    def _delay(self, attempt: int) -> float:
        return self.settings.backoff_base * (2**attempt)

    async def fetch(self, params: Mapping[str, str]) -> bytes:
        """GET the base URL with ``params``; connect errors, timeouts and 5xx are retried with backoff."""
        retries = self.settings.max_retries
        last: str = ""
        for attempt in range(retries + 1):
            try:
                status, headers, body = await self._fetch_once(params)
            except httpx.TransportError as exc:  # connect errors, timeouts, dropped connections
                last = f"{type(exc).__name__}: {exc}".rstrip(": ")
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

        return await self.request_with(verb, decode, **params)

    async def request_with(
        self,
        verb: str,
        decode: Callable[[bytes], Awaitable[DecodedT]],
        prefetched: Awaitable[bytes] | None = None,
        **params: str | None,
    ) -> DecodedT:
        """:meth:`request` with the parsing done by ``decode`` (e.g. in a worker process).

        ``decode`` turns the body into a result as :func:`read_response` would, raising what it
        raises (:class:`~schemas.errors.UnsafeXML`, :class:`MalformedXML`, :class:`MalformedPage`,
        OAI errors); fetching, the retries of malformed responses and ``cleaned_pages`` stay here.
        ``prefetched``, when given, is a :meth:`fetch` of this very query already under way: its
        body (or its error) stands for the first attempt's.
        """
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
        resp = await self.request("Identify")
        values: dict[str, list[str]] = {}
        if resp.body is not None:
            for child in resp.body:
                values.setdefault(local_name(child), []).append((child.text or "").strip())

        def one(name: str) -> str | None:
            found = values.get(name)
            return found[0] if found else None

        return RepositoryInfo(
            name=one("repositoryName"),
            base_url=one("baseURL"),
            protocol_version=one("protocolVersion"),
            granularity=one("granularity") or "YYYY-MM-DD",
            earliest_datestamp=one("earliestDatestamp"),
            deleted_record=one("deletedRecord"),
            admin_emails=values.get("adminEmail", []),
        )

    async def list_metadata_formats(self, identifier: str | None = None) -> list[MetadataFormat]:
        resp = await self.request("ListMetadataFormats", identifier=identifier)
        formats = []
        for item in _children(resp.body, "metadataFormat"):
            fields = {local_name(c): (c.text or "").strip() for c in item}
            formats.append(
                MetadataFormat(
                    prefix=fields.get("metadataPrefix", ""),
                    schema=fields.get("schema"),
                    namespace=fields.get("metadataNamespace"),
                )
            )
        return formats

    async def list_page(
        self,
        verb: str,
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
        verb: str,
        metadata_prefix: str | None = None,
        set_spec: str | None = None,
        from_: str | None = None,
        until: str | None = None,
        token: str | None = None,
    ) -> AsyncIterator[Page]:
        """Every page of a list, following resumption tokens; a token seen twice raises."""
        seen: set[str] = set()
        while True:
            if token is not None:
                if token in seen:
                    raise ResumptionTokenLoop(f"{self.base_url} repeated resumptionToken {token!r}")
                seen.add(token)
            page = await self.list_page(verb, metadata_prefix, set_spec, from_, until, token)
            yield page
            if not page.token:
                return
            token = page.token

    async def list_sets(self) -> list[SetInfo]:
        """Every set of the repository (paged); none when it has no set hierarchy."""
        sets: list[SetInfo] = []
        with contextlib.suppress(NoSetHierarchy):
            async for page in self.iter_pages("ListSets"):
                for item in page.items:
                    fields = {local_name(c): (c.text or "").strip() for c in item}
                    sets.append(SetInfo(spec=fields.get("setSpec", ""), name=fields.get("setName")))
        return sets

    async def list_identifiers(
        self,
        metadata_prefix: str,
        set_spec: str | None = None,
        from_: str | None = None,
        until: str | None = None,
    ) -> AsyncIterator[etree._Element]:
        """Every ``<header>`` of ListIdentifiers."""
        async for page in self.iter_pages("ListIdentifiers", metadata_prefix, set_spec, from_, until):
            for item in page.items:
                yield item

    async def list_records(
        self,
        metadata_prefix: str,
        set_spec: str | None = None,
        from_: str | None = None,
        until: str | None = None,
    ) -> AsyncIterator[etree._Element]:
        """Every ``<record>`` of ListRecords."""
        async for page in self.iter_pages("ListRecords", metadata_prefix, set_spec, from_, until):
            for item in page.items:
                yield item

    async def get_record(self, identifier: str, metadata_prefix: str) -> etree._Element:
        """The ``<record>`` of GetRecord."""
        resp = await self.request("GetRecord", identifier=identifier, metadataPrefix=metadata_prefix)
        for item in _children(resp.body, "record"):
            return item
        raise MalformedPage(f"GetRecord {identifier} returned no record", etree.tostring(resp.root))


# ------------------------------------------------------------------------------ parsing, no I/O


def read_response(verb: str, data: bytes) -> Response:
    """A fetched body parsed safely and interpreted: what :meth:`OAIClient.request` does after the fetch.

    Pure (no I/O), so it can run in a worker process. Raises :class:`~schemas.errors.UnsafeXML`,
    :class:`MalformedXML`, :class:`MalformedPage` (not an OAI-PMH response) or the OAI error answered.
    """
    parsed = parse_xml(data)
    return _interpret(verb, parsed.root, parsed.cleaned, len(data))


def _interpret(verb: str, root: etree._Element, cleaned: bool, nbytes: int) -> Response:
    if local_name(root) != "OAI-PMH":
        raise MalformedPage(
            f"not an OAI-PMH response (root element <{local_name(root)}>)", etree.tostring(root)
        )
    body = None
    errors: list[etree._Element] = []
    for child in root:
        name = local_name(child)
        if name == "error":
            errors.append(child)
        elif name == verb:
            body = child
    if errors:
        first = errors[0]
        raise oai_error(first.get("code", ""), (first.text or "").strip())
    return Response(verb=verb, root=root, body=body, cleaned=cleaned, nbytes=nbytes)


def oai_query(verb: str, params: Mapping[str, str | None]) -> dict[str, str]:
    """The query string of a request: ``verb`` and the arguments that are set."""
    return {"verb": verb, **{k: v for k, v in params.items() if v is not None}}


def list_params(
    verb: str,
    metadata_prefix: str | None = None,
    set_spec: str | None = None,
    from_: str | None = None,
    until: str | None = None,
    token: str | None = None,
) -> dict[str, str | None]:
    """The query of a list verb: the resumptionToken alone, or the selective-harvest arguments."""
    if verb not in LIST_VERBS:
        raise ValueError(f"{verb} is not a list verb")
    if token is not None:
        return {"resumptionToken": token}
    if verb == "ListSets":
        return {}
    return {"metadataPrefix": metadata_prefix, "set": set_spec, "from": from_, "until": until}


# The end of a ListRecords/ListIdentifiers document: its resumptionToken (any prefix) and the closing
# tags, nothing after them but white space.
_TRAILING_TOKEN = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?resumptionToken(?:\s[^>]*)?>([^<]*)</(?:[A-Za-z_][\w.-]*:)?resumptionToken\s*>"
    rb"\s*</(?:[A-Za-z_][\w.-]*:)?List(?:Records|Identifiers)\s*>\s*</(?:[A-Za-z_][\w.-]*:)?OAI-PMH\s*>\s*$"
)
_TAIL = 4096


def trailing_token(data: bytes) -> str | None:
    """A guess at a list response's resumptionToken from its last bytes, without parsing it.

    Only good for fetching the next page early: :func:`page_from_response` gives the real token,
    and a guess that differs from it is thrown away. ``None`` when the end of the document does not
    look like a token followed by the closing tags (no token, an empty one, or anything unusual).
    """
    found = _TRAILING_TOKEN.search(data, max(0, len(data) - _TAIL))
    if found is None:
        return None
    return html.unescape(found.group(1).decode("utf-8", errors="replace")).strip() or None


def page_from_response(resp: Response) -> Page:
    """The items of a list verb's response and what its resumptionToken says."""
    verb = resp.verb
    item_name = {"ListRecords": "record", "ListIdentifiers": "header", "ListSets": "set"}[verb]
    items: list[etree._Element] = []
    token_el = None
    if resp.body is not None:
        for child in resp.body:
            tag = child.tag
            name = LOCAL_NAMES.get(tag)
            if name is None:
                name = tag_local_name(tag)
            if name == item_name:
                items.append(child)
            elif name == "resumptionToken":
                token_el = child
    next_token, size, cursor = None, None, None
    if token_el is not None:
        next_token = (token_el.text or "").strip() or None  # an empty token ends the list
        size = _int(token_el.get("completeListSize"))
        cursor = _int(token_el.get("cursor"))
    return Page(
        verb=verb,
        items=items,
        token=next_token,
        complete_list_size=size,
        cursor=cursor,
        cleaned=resp.cleaned,
        nbytes=resp.nbytes,
    )


def _children(parent: etree._Element | None, name: str) -> list[etree._Element]:
    if parent is None:
        return []
    return [c for c in parent if local_name(c) == name]


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None

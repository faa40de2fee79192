"""A scripted OAI-PMH provider for fault tests: a small data set served page by page, with faults.

The provider answers Identify and ListRecords (oai_dc) over a list of :class:`FakeRecord`, honours
``from``/``until``/``set`` at its granularity and pages with resumption tokens. Each ListRecords
request first takes the next entry of ``script``: ``None`` answers normally, a :class:`Fault` misbehaves
(an HTTP status with Retry-After, a hang, a dropped connection, a replaced or transformed body, an
endless chunked body, a gzip bomb). Every request's arrival and finish times are kept in ``spans``.
"""

from __future__ import annotations

import asyncio
import functools
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

_OAI_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<responseDate>{now}</responseDate><request>http://faulty/oai</request>"
)


@dataclass
class FakeRecord:
    identifier: str
    datestamp: datetime
    title: str = ""
    creator: str = "Nguyễn Văn A"
    year: int = 2020
    language: str = "vie"
    deleted: bool = False
    sets: tuple[str, ...] = ()


@dataclass
class Fault:
    """One misbehaviour; the fields that are set say which."""

    status: int | None = None
    retry_after: str | None = None
    hang: float | None = None
    drop: bool = False
    body: bytes | None = None
    transform: Callable[[bytes], bytes] | None = None
    oai_error: str | None = None
    # a 200 ListRecords body of about this many bytes sent in chunks with no Content-Length, cut short
    # as soon as the client hangs up (what it managed to send is kept in ``FaultyProvider.streams``)
    stream: int | None = None
    # a gzip-encoded body that inflates to this many bytes; Content-Length is its small compressed size
    gzip_bomb: int | None = None


@dataclass
class Span:
    """One request as the server saw it: its query, and when it arrived and was answered (``time.time``)."""

    query: dict[str, str]
    arrived: float
    finished: float = 0.0


@dataclass
class Streamed:
    """What a :attr:`Fault.stream` response sent before it ended, and whether the client hung up first."""

    sent: int
    client_left: bool


def header_xml(rec: FakeRecord, granularity: str) -> str:
    stamp = format_stamp(rec.datestamp, granularity)
    sets = "".join(f"<setSpec>{escape(s)}</setSpec>" for s in rec.sets)
    status = ' status="deleted"' if rec.deleted else ""
    return (
        f"<header{status}><identifier>{escape(rec.identifier)}</identifier>"
        f"<datestamp>{stamp}</datestamp>{sets}</header>"
    )


def record_xml(rec: FakeRecord, granularity: str) -> str:
    stamp = format_stamp(rec.datestamp, granularity)
    sets = "".join(f"<setSpec>{escape(s)}</setSpec>" for s in rec.sets)
    if rec.deleted:
        return (
            f'<record><header status="deleted"><identifier>{escape(rec.identifier)}</identifier>'
            f"<datestamp>{stamp}</datestamp>{sets}</header></record>"
        )
    return (
        f"<record><header><identifier>{escape(rec.identifier)}</identifier><datestamp>{stamp}</datestamp>"
        f"{sets}</header><metadata>"
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{escape(rec.title)}</dc:title><dc:creator>{escape(rec.creator)}</dc:creator>"
        f"<dc:date>{rec.year}</dc:date><dc:language>{rec.language}</dc:language><dc:type>Text</dc:type>"
        f"</oai_dc:dc></metadata></record>"
    )


def format_stamp(value: datetime, granularity: str) -> str:
    if "T" in granularity:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.strftime("%Y-%m-%d")


def _parse_stamp(value: str, until: bool = False) -> datetime:
    if "T" in value:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    return day.replace(hour=23, minute=59, second=59) if until else day


@dataclass
class FaultyProvider:
    """The ASGI app. Tests edit ``records`` and ``script`` and read ``requests``."""

    records: list[FakeRecord] = field(default_factory=list)
    page_size: int = 10
    granularity: str = "YYYY-MM-DDThh:mm:ssZ"
    delay: float = 0.0
    script: list[Fault | None] = field(default_factory=list)
    loop_token: bool = False
    # the bug of some providers (invenio-app-rdm#2715): the last page carries a token anyway, and asking
    # for it gets this answer: an OAI error code ("badResumptionToken", "noRecordsMatch") or "empty"
    # (a ListRecords without records or token)
    after_last_page: str | None = None
    # a repository that declares one granularity and refuses `from` at it (nakala, old DSpace XOAI):
    # "seconds" refuses a `from` with a time, "days" one without
    refuses_from: str | None = None
    ignores_from: bool = False  # lists everything whatever `from` says (dataverse.harvard.edu#243)
    deleted_record: str = "persistent"
    requests: list[dict[str, str]] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    streams: list[Streamed] = field(default_factory=list)

    def page(self, query: dict[str, str]) -> bytes:
        token = query.get("resumptionToken")
        verb = query.get("verb", "ListRecords")
        given = query.get("from")
        if given and self.refuses_from and ("T" in given) == (self.refuses_from == "seconds"):
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            error = f'<error code="badArgument">Invalid date given in from parameter: {given}</error>'
            return (_OAI_HEAD.format(now=now) + error + "</OAI-PMH>").encode()
        if token is not None and token.startswith("past-the-end|"):
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if self.after_last_page == "empty":
                return (_OAI_HEAD.format(now=now) + f"<{verb}></{verb}></OAI-PMH>").encode()
            error = f'<error code="{self.after_last_page}">no such page</error>'
            return (_OAI_HEAD.format(now=now) + error + "</OAI-PMH>").encode()
        if token is not None:
            offset_s, from_, until, set_spec = token.split("|")
            offset = int(offset_s)
        else:
            offset, from_, until, set_spec = (
                0,
                "" if self.ignores_from else query.get("from", ""),
                query.get("until", ""),
                query.get("set", ""),
            )
        chosen = [
            r
            for r in sorted(self.records, key=lambda r: r.identifier)
            if (not from_ or r.datestamp >= _parse_stamp(from_))
            and (not until or r.datestamp <= _parse_stamp(until, until=True))
            and (not set_spec or set_spec in r.sets)
        ]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        head = _OAI_HEAD.format(now=now)
        if not chosen:
            return (head + '<error code="noRecordsMatch">nothing</error></OAI-PMH>').encode()
        batch = chosen[offset : offset + self.page_size]
        item = header_xml if verb == "ListIdentifiers" else record_xml
        body = "".join(item(r, self.granularity) for r in batch)
        nxt = offset + self.page_size
        if self.loop_token and token is not None:
            nxt = offset
        if nxt < len(chosen):
            tok = f"{nxt}|{from_}|{until}|{set_spec}"
            body += (
                f'<resumptionToken completeListSize="{len(chosen)}" cursor="{offset}">{tok}</resumptionToken>'
            )
        elif self.after_last_page is not None:
            past = f"past-the-end|{from_}|{until}|{set_spec}"
            size = len(chosen)
            body += f'<resumptionToken completeListSize="{size}" cursor="{offset}">{past}</resumptionToken>'
        elif token is not None:
            body += f'<resumptionToken completeListSize="{len(chosen)}" cursor="{offset}"/>'
        return (head + f"<{verb}>" + body + f"</{verb}></OAI-PMH>").encode()

    def identify(self) -> bytes:
        head = _OAI_HEAD.format(now=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        return (
            head + "<Identify><repositoryName>Faulty</repositoryName><baseURL>http://faulty/oai</baseURL>"
            "<protocolVersion>2.0</protocolVersion><adminEmail>a@example.org</adminEmail>"
            "<earliestDatestamp>2000-01-01T00:00:00Z</earliestDatestamp>"
            f"<deletedRecord>{self.deleted_record}</deletedRecord><granularity>{self.granularity}</granularity></Identify></OAI-PMH>"
        ).encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        self.requests.append(query)
        span = Span(query, arrived=time.time())
        self.spans.append(span)
        try:
            await self._answer(query, receive, send)
        finally:
            span.finished = time.time()

    async def _answer(self, query: dict[str, str], receive: Any, send: Any) -> None:
        verb = query.get("verb")
        if verb == "Identify":
            await _send(send, 200, self.identify())
            return
        if verb not in ("ListRecords", "ListIdentifiers"):
            await _send(send, 400, b"unsupported")
            return
        fault = self.script.pop(0) if self.script else None
        if self.delay:
            await asyncio.sleep(self.delay)
        if fault is None:
            await _send(send, 200, self.page(query))
            return
        if fault.hang is not None:
            await asyncio.sleep(fault.hang)
        if fault.status is not None:
            headers = [(b"retry-after", fault.retry_after.encode())] if fault.retry_after else []
            await _send(send, fault.status, fault.body or b"unavailable", headers)
            return
        if fault.drop:
            # promise a long body, send a little, then hang up
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/xml"), (b"content-length", b"100000")],
                }
            )
            await send(
                {"type": "http.response.body", "body": b"<?xml version='1.0'?><OAI-PMH", "more_body": True}
            )
            raise ConnectionAbortedError("scripted connection drop")
        if fault.stream is not None:
            self.streams.append(await _stream(receive, send, self.page(query), fault.stream))
            return
        if fault.gzip_bomb is not None:
            await _send(send, 200, gzip_bomb(fault.gzip_bomb), [(b"content-encoding", b"gzip")])
            return
        if fault.oai_error is not None:
            head = _OAI_HEAD.format(now="2024-01-01T00:00:00Z")
            await _send(
                send, 200, (head + f'<error code="{fault.oai_error}">scripted</error></OAI-PMH>').encode()
            )
            return
        body = fault.body if fault.body is not None else self.page(query)
        if fault.transform is not None:
            body = fault.transform(body)
        await _send(send, 200, body)


async def _send(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/xml; charset=UTF-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _stream(receive: Any, send: Any, page: bytes, total: int) -> Streamed:
    """Send ``page``'s records over and over, chunked, until ``total`` bytes or the client hangs up."""
    left = asyncio.Event()

    async def watch() -> None:  # the first message is the (empty) request body, then the disconnect
        while (await receive())["type"] != "http.disconnect":
            pass
        left.set()

    watcher = asyncio.ensure_future(watch())
    start, _, rest = page.partition(b"<record>")
    chunk = b"<record>" + rest.rpartition(b"</record>")[0] + b"</record>"
    chunk *= max(1, 65536 // len(chunk))
    sent = 0
    try:
        headers = [(b"content-type", b"text/xml; charset=UTF-8")]  # and no Content-Length: chunked
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": start, "more_body": True})
        sent += len(start)
        while sent < total and not left.is_set():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += len(chunk)
            await asyncio.sleep(0)  # let the watcher see a hang-up
        if not left.is_set():
            await send({"type": "http.response.body", "body": b"</ListRecords></OAI-PMH>"})
    finally:
        watcher.cancel()
    return Streamed(sent=sent, client_left=left.is_set())


@functools.lru_cache(maxsize=4)
def gzip_bomb(inflated: int) -> bytes:
    """A gzip stream of an OAI-PMH page padded with white space to ``inflated`` bytes (about 1000:1)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    head = _OAI_HEAD.format(now="2024-01-01T00:00:00Z").encode() + b"<ListRecords>"
    parts = [packer.compress(head)]
    block = b" " * (1 << 20)
    left = inflated - len(head)
    while left > 0:
        parts.append(packer.compress(block[: min(left, len(block))]))
        left -= len(block)
    parts.append(packer.compress(b"</ListRecords></OAI-PMH>"))
    parts.append(packer.flush())
    return b"".join(parts)


def vietnamese_records(
    n: int, start: datetime, step_seconds: int = 60, prefix: str = "oai:faulty:"
) -> list[FakeRecord]:
    """``n`` records with Vietnamese titles, datestamps ``step_seconds`` apart."""
    subjects = [
        "Lúa gạo đồng bằng sông Cửu Long",
        "Địa chất Việt Nam",
        "Y học cổ truyền",
        "Công nghệ thông tin",
    ]
    return [
        FakeRecord(
            identifier=f"{prefix}{i:06d}",
            datestamp=start + timedelta(seconds=i * step_seconds),
            title=f"Nghiên cứu {subjects[i % len(subjects)]} — tập {i}",
            year=1990 + i % 30,
        )
        for i in range(n)
    ]

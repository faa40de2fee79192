"""OAI-PMH providers that attack the harvester rather than fail by accident: a body trickled byte by
byte, resumption tokens that never end, redirects to where the harvester must not go.

Each counts the requests it was sent (``requests``), so a test can tell a refusal from a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from .faulty import _OAI_HEAD, FakeRecord, _send, header_xml, record_xml


def _head() -> str:
    return _OAI_HEAD.format(now=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def identify_xml() -> bytes:
    return (
        _head() + "<Identify><repositoryName>Hostile</repositoryName><baseURL>http://hostile/oai</baseURL>"
        "<protocolVersion>2.0</protocolVersion><adminEmail>a@example.org</adminEmail>"
        "<earliestDatestamp>2000-01-01T00:00:00Z</earliestDatestamp><deletedRecord>persistent"
        "</deletedRecord><granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify></OAI-PMH>"
    ).encode()


class _Counting:
    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []

    def _query(self, scope: dict[str, Any]) -> dict[str, str]:
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        self.requests.append(query)
        return query


class TricklingProvider(_Counting):
    """Answers every request with a 200 whose body comes one byte every ``interval`` seconds, for
    ever: each read is quick, the answer never complete."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__()
        self.interval = interval

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self._query(scope)
        gone = asyncio.Event()

        async def watch() -> None:  # stop trickling once the harvester hangs up
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/xml")]}
        await send(start)
        try:
            while not gone.is_set():
                await send({"type": "http.response.body", "body": b" ", "more_body": True})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), self.interval)
        finally:
            watcher.cancel()


class EndlessTokens(_Counting):
    """A ListRecords (or ListIdentifiers) that declares ``completeListSize`` records but hands out a
    new, distinct resumptionToken with every page, for ever (one new record a page)."""

    def __init__(self, declared: int = 3) -> None:
        super().__init__()
        self.declared = declared

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        query = self._query(scope)
        if query.get("verb") == "Identify":
            await _send(send, 200, identify_xml())
            return
        n = int(query.get("resumptionToken", "0"))
        rec = FakeRecord(f"oai:endless:{n:06d}", datetime(2024, 1, 1, tzinfo=UTC), title=f"Trang {n}")
        token = f'<resumptionToken completeListSize="{self.declared}" cursor="{n}">{n + 1}</resumptionToken>'
        verb = query.get("verb", "ListRecords")
        item = (header_xml if verb == "ListIdentifiers" else record_xml)(rec, "YYYY-MM-DDThh:mm:ssZ")
        body = _head() + f"<{verb}>" + item + token + f"</{verb}>"
        await _send(send, 200, (body + "</OAI-PMH>").encode())


class Redirector(_Counting):
    """Answers every request with ``status`` and ``Location: target`` (with the request's query when
    ``target`` is http(s); ``None``: back to itself, a redirect loop)."""

    def __init__(self, target: str | None, status: int = 302) -> None:
        super().__init__()
        self.target = target
        self.status = status

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self._query(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        if self.target is None:
            location = f"{scope['path']}?n={len(self.requests)}&{query}"
        elif self.target.startswith("http"):  # moved, as a repository moving to https does
            location = f"{self.target}?{query}"
        else:
            location = self.target
        await _send(send, self.status, b"moved", [(b"location", location.encode())])

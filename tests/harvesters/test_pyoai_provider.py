"""Harvesting an independent, third-party OAI-PMH provider: pyoai's server (``oaipmh.server``)."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from harvesters.runner import harvest_members
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import free_port

from .support import add_member, stored

oaipmh_server = pytest.importorskip("oaipmh.server")
from oaipmh import common, error, metadata  # noqa: E402

OAI_DC = (
    "oai_dc",
    "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
    "http://www.openarchives.org/OAI/2.0/oai_dc/",
)


class Repository:
    """A small IOAI implementation: 23 records, one deleted, served in batches of 10."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.items: list[tuple[str, datetime, dict[str, list[str]] | None]] = []
        for i in range(23):
            fields = {
                "title": [f"Tuyển tập công trình khoa học số {i}" if i % 2 else f"Annual report {i}"],
                "creator": ["Trần Thị Bình", "Lê Văn Cường"],
                "date": [str(2000 + i)],
                "language": ["vi" if i % 2 else "en"],
                "type": ["Text"],
                "identifier": [f"http://hdl.handle.net/123456789/{i}"],
            }
            self.items.append((f"oai:pyoai:{i}", datetime(2024, 1, 1 + i, 12, 0, 0), fields))
        self.items[7] = ("oai:pyoai:7", datetime(2024, 2, 1), None)  # deleted

    def identify(self) -> common.Identify:
        return common.Identify(
            repositoryName="pyoai test repository",
            baseURL=self.base_url,
            protocolVersion="2.0",
            adminEmails=["admin@example.org"],
            earliestDatestamp=datetime(2024, 1, 1),
            deletedRecord="persistent",
            granularity="YYYY-MM-DDThh:mm:ssZ",
            compression=["identity"],
        )

    def listMetadataFormats(self, identifier: str | None = None) -> list[tuple[str, str, str]]:
        return [OAI_DC]

    def listSets(self) -> list[Any]:
        raise error.NoSetHierarchyError("no sets")

    def _results(self, from_: datetime | None, until: datetime | None) -> list[Any]:
        out = []
        for ident, stamp, fields in self.items:
            if (from_ and stamp < from_) or (until and stamp > until):
                continue
            header = common.Header(None, ident, stamp, [], fields is None)
            out.append((header, None if fields is None else common.Metadata(None, fields), None))
        return out

    def listRecords(self, metadataPrefix: str, set: str | None = None, from_=None, until=None):
        return self._results(from_, until)

    def listIdentifiers(self, metadataPrefix: str, set: str | None = None, from_=None, until=None):
        return [h for h, _m, _a in self._results(from_, until)]

    def getRecord(self, metadataPrefix: str, identifier: str):
        for header, meta, about in self._results(None, None):
            if header.identifier() == identifier:
                return header, meta, about
        raise error.IdDoesNotExistError(identifier)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(WSGIServer):
    daemon_threads = True


@pytest.fixture
def pyoai_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[dict[str, str]]]]:
    # pyoai 2.5 decodes resumption tokens with cgi.parse_qs, which Python 3.8 removed: give its
    # module the urllib function under the old name so the third-party server can page at all.
    monkeypatch.setattr(oaipmh_server, "cgi", SimpleNamespace(parse_qs=urllib.parse.parse_qs))
    port = free_port()
    base = f"http://127.0.0.1:{port}/oai"
    registry = metadata.MetadataRegistry()
    registry.registerWriter("oai_dc", oaipmh_server.oai_dc_writer)
    provider = oaipmh_server.Server(Repository(base), registry, resumption_batch_size=10)
    seen: list[dict[str, str]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        params = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        seen.append(params)
        body = provider.handleRequest(params)
        start_response(
            "200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))]
        )
        return [body]

    httpd = make_server("127.0.0.1", port, app, server_class=_ThreadingWSGIServer, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base, seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.asyncio
async def test_harvest_pyoai_server_with_paging_and_a_deleted_record(
    pyoai_url: tuple[str, list[dict[str, str]]], store: RecordStore, settings: Settings
) -> None:
    url, seen = pyoai_url
    await add_member(store, "PYOAI", url)

    [report] = await harvest_members(store, settings)

    assert report.ok, report.error
    assert report.pages == 3  # 23 records in batches of 10
    assert (report.added, report.deleted, report.quarantined) == (22, 1, 0)
    records = await stored(store, "PYOAI")
    assert len(records) == 23
    assert records["oai:pyoai:7"].deleted
    vi = records["oai:pyoai:3"]
    assert vi.title == "Tuyển tập công trình khoa học số 3"
    assert vi.authors == ["Trần Thị Bình", "Lê Văn Cường"]
    assert (vi.year, vi.language) == (2003, "vie")
    assert vi.identifiers.handle == ["123456789/3"]
    assert sum("resumptionToken" in q for q in seen) == 2
    info = await store.repository_info("PYOAI")
    assert info is not None and info["deleted_record"] == "persistent"

    # incremental: nothing changed, the provider gets a `from` with seconds and nothing is rewritten
    seen.clear()
    [again] = await harvest_members(store, settings)
    assert again.ok, again.error
    first = next(q for q in seen if q.get("verb") == "ListRecords")
    assert first["from"] == "2024-01-31T00:00:00Z"  # high water: the deletion (2024-02-01) minus a day
    assert again.added == 0 and again.updated == 0

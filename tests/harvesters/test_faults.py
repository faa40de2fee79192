"""Faults a real repository shows, injected by a scripted provider over loopback HTTP."""

from __future__ import annotations

import contextlib
import email.utils
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harvesters.checkpoint import Checkpoint
from harvesters.oai.client import OAIClient, make_http_client, retry_after_seconds
from harvesters.oai.errors import OAI_ERRORS, UnknownOAIError
from harvesters.runner import harvest_members
from harvesters.xml import MalformedXML, clean_xml_bytes, parse_xml
from schemas.errors import OAIError, UnsafeXML
from schemas.member import RunReport
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from tests.servers.faulty import Fault, FaultyProvider, vietnamese_records

from .support import add_member, stored

START = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE OAI-PMH SYSTEM "file:///etc/passwd">
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>&xxe;</ListRecords></OAI-PMH>"""

XXE_INTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>&xxe;</ListRecords></OAI-PMH>"""

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record><header>
<identifier>oai:x:1</identifier><datestamp>2024-01-01</datestamp></header><metadata>
<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:title>&lol9;</dc:title></oai_dc:dc></metadata></record></ListRecords></OAI-PMH>"""


class Recorder:
    """A ProgressSink that remembers what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, object]] = []

    def begin(self, task: str, total: int | None = None) -> None:
        self.events.append(("begin", task, total))

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        self.events.append(("advance", task, (n, total)))

    def end(self, task: str, ok: bool = True, message: str = "") -> None:
        self.events.append(("end", task, (ok, message)))


@pytest.fixture
def provider() -> Iterator[tuple[FaultyProvider, str]]:
    app = FaultyProvider(records=vietnamese_records(25, START))
    with serve_in_thread(app) as url:
        yield app, url + "/oai"


def _listings(app: FaultyProvider) -> list[dict[str, str]]:
    return [q for q in app.requests if q.get("verb") == "ListRecords"]


async def _harvest_one(
    store: RecordStore, settings: Settings, url: str, code: str = "VAST", **kw: Any
) -> RunReport:
    await add_member(store, code, url)
    [report] = await harvest_members(store, settings, [code], **kw)
    return report


@pytest.mark.asyncio
async def test_503_with_retry_after_seconds_is_honoured(
    provider: tuple[FaultyProvider, str], store: RecordStore, settings: Settings
) -> None:
    app, url = provider
    app.script = [Fault(status=503, retry_after="1")]
    began = time.monotonic()
    report = await _harvest_one(store, settings, url)
    assert report.ok, report.error
    assert time.monotonic() - began >= 0.95  # waited as told, not the 0.05 s backoff
    assert report.added == 25 and len(_listings(app)) == 4


@pytest.mark.asyncio
async def test_retry_after_http_date_is_capped_by_settings(
    provider: tuple[FaultyProvider, str], store: RecordStore, tmp_path: Path
) -> None:
    app, url = provider
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    app.script = [Fault(status=503, retry_after=later)]
    settings = Settings(home=tmp_path, backoff_base=0.01, max_retry_after=0.2)
    began = time.monotonic()
    async with _store(settings) as own:
        report = await _harvest_one(own, settings, url)
    assert report.ok, report.error
    assert time.monotonic() - began < 5
    assert 3500 < (retry_after_seconds(later) or 0) <= 3600


@pytest.mark.asyncio
async def test_server_errors_then_success(
    provider: tuple[FaultyProvider, str], store: RecordStore, settings: Settings
) -> None:
    app, url = provider
    app.script = [Fault(status=500), Fault(status=502), None, Fault(status=504)]
    report = await _harvest_one(store, settings, url)
    assert report.ok, report.error
    assert report.added == 25 and report.pages == 3
    assert len(_listings(app)) == 6


@pytest.mark.asyncio
async def test_hanging_response_times_out_and_is_retried(
    provider: tuple[FaultyProvider, str], tmp_path: Path
) -> None:
    app, url = provider
    app.script = [Fault(hang=3.0)]
    settings = Settings(home=tmp_path, backoff_base=0.01, request_timeout=0.3)
    async with _store(settings) as own:
        report = await _harvest_one(own, settings, url)
    assert report.ok, report.error
    assert report.added == 25


@pytest.mark.asyncio
async def test_dropped_connection_is_retried(
    provider: tuple[FaultyProvider, str], store: RecordStore, settings: Settings
) -> None:
    app, url = provider
    app.script = [None, Fault(drop=True)]
    report = await _harvest_one(store, settings, url)
    assert report.ok, report.error
    assert report.added == 25 and len(_listings(app)) == 4


@pytest.mark.asyncio
async def test_illegal_xml_characters_are_cleaned_and_the_page_kept(
    provider: tuple[FaultyProvider, str], store: RecordStore, settings: Settings
) -> None:
    app, url = provider

    def dirty(body: bytes) -> bytes:  # what DSpace really sends: control characters and stray bytes
        return body.replace("tập 1<".encode(), "tập\x0b 1\x1b\xff<".encode("utf-8", "surrogateescape"), 1)

    app.script = [Fault(transform=lambda b: dirty(b).replace(b"\xc3\xbf", b"\xff"))]
    progress = Recorder()
    report = await _harvest_one(store, settings, url, progress=progress)
    assert report.ok, report.error
    assert report.added == 25 and report.quarantined == 0
    title = (await stored(store))["oai:faulty:000001"].title
    assert (
        title is not None and "\x0b" not in title and "\x1b" not in title and title.startswith("Nghiên cứu")
    )
    assert "tập 1" in title
    ends = [e for e in progress.events if e[0] == "end"]
    assert ends == [("end", "VAST", (True, "25 records in 3 pages, 1 page(s) cleaned"))]
    assert [e[2] for e in progress.events if e[0] == "advance"] == [(10, 25), (10, 25), (5, 25)]


@pytest.mark.asyncio
async def test_malformed_page_is_retried_quarantined_and_the_next_run_resumes(
    provider: tuple[FaultyProvider, str], store: RecordStore, settings: Settings
) -> None:
    app, url = provider
    broken = Fault(body=b"<OAI-PMH><ListRecords><record><header>")
    app.script = [None, broken, broken, broken]
    report = await _harvest_one(store, settings, url)
    assert not report.ok and report.error and "MalformedPage" in report.error
    assert report.added == 10
    [page] = await store.list_quarantine("VAST")
    assert page.reason.startswith("malformed ListRecords page (token '10|||')")
    in_progress, _ = await store.get_harvest_state("VAST")
    assert in_progress is not None and in_progress["token"] == "10|||"

    app.requests.clear()
    [again] = await harvest_members(store, settings)
    assert again.ok, again.error
    assert _listings(app)[0] == {"verb": "ListRecords", "resumptionToken": "10|||"}
    assert again.added == 15 and len(await stored(store)) == 25


@pytest.mark.asyncio
async def test_a_bad_record_is_quarantined_and_the_rest_stored(
    provider: tuple[FaultyProvider, str], store: RecordStore, settings: Settings
) -> None:
    app, url = provider

    def spoil(body: bytes) -> bytes:
        body = re.sub(rb"(oai:faulty:000003</identifier><datestamp>)[^<]+", rb"\1not a date", body)
        return re.sub(
            rb"(oai:faulty:000005</identifier>.*?</header>)<metadata>.*?</metadata>", rb"\1", body, count=1
        )

    app.script = [Fault(transform=spoil)]
    report = await _harvest_one(store, settings, url)
    assert report.ok, report.error
    assert (report.added, report.quarantined) == (23, 2)
    bad = {q.oai_identifier: q.reason for q in await store.list_quarantine("VAST")}
    assert set(bad) == {"oai:faulty:000003", "oai:faulty:000005"}
    assert "not a date" in bad["oai:faulty:000003"] and "no metadata" in bad["oai:faulty:000005"]


@pytest.mark.asyncio
async def test_bad_resumption_token_restarts_the_listing_from_the_checkpoint_from(
    provider: tuple[FaultyProvider, str], store: RecordStore, settings: Settings
) -> None:
    app, url = provider
    first = await _harvest_one(store, settings, url)
    assert first.ok
    for rec in app.records[5:]:  # changed since: the incremental harvest must see them
        rec.datestamp += timedelta(days=3)
        rec.title += " (sửa)"
    app.requests.clear()
    app.script = [None, Fault(oai_error="badResumptionToken")]
    [second] = await harvest_members(store, settings)
    assert second.ok, second.error
    lists = _listings(app)
    assert "resumptionToken" not in lists[0] and "resumptionToken" not in lists[2]
    assert lists[0]["from"] == lists[2]["from"]  # restarted from the same `from`, not from scratch
    assert lists[1]["verb"] == "ListRecords" and "resumptionToken" in lists[1]
    assert second.updated == 20
    titles = [r.title or "" for r in (await stored(store)).values()]
    assert sum(t.endswith("(sửa)") for t in titles) == 20


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", ["badResumptionToken", "badArgument", "noRecordsMatch", "empty"])
async def test_a_token_on_the_last_page_that_the_repository_refuses_ends_the_list(
    store: RecordStore, settings: Settings, answer: str
) -> None:
    """invenio-app-rdm#2715: the page completing the list carries a token, refused when asked for.

    Every record the list declared (completeListSize) has arrived, so the set is done: not listed
    again from the start (badResumptionToken) nor failed for ever at the same token (badArgument).
    """
    app = FaultyProvider(records=vietnamese_records(30, START), page_size=10, after_last_page=answer)
    with serve_in_thread(app) as url:
        report = await _harvest_one(store, settings, url + "/oai")
        [again] = await harvest_members(store, settings, ["VAST"], full=True)
    assert report.ok and report.added == 30, report.error
    assert again.ok and again.unchanged == 30, again.error
    asked = [q.get("resumptionToken") for q in _listings(app)]
    assert asked[:4] == [None, "10|||", "20|||", "past-the-end|||"]
    assert len(await stored(store)) == 30
    assert (await store.get_harvest_state("VAST"))[0] is None


@pytest.mark.asyncio
async def test_a_harvest_stopped_before_the_refused_token_ends_the_list_when_resumed(
    store: RecordStore, settings: Settings
) -> None:
    """Killed right after storing the last page, whose token is then refused: the resumed run completes."""
    app = FaultyProvider(
        records=vietnamese_records(30, START), page_size=10, after_last_page="badResumptionToken"
    )
    with serve_in_thread(app) as url:
        await add_member(store, "VAST", url + "/oai")
        # what a harvest killed just after committing its third page leaves behind
        checkpoint = Checkpoint(
            run_id=None,
            prefix="oai_dc",
            sets=[None],
            from_=None,
            until=None,
            full=False,
            token="past-the-end|||",
            pages=3,
            totals={"0": 30},
            listed=30,
        )
        await store.set_harvest_state("VAST", checkpoint.to_json())
        [report] = await harvest_members(store, settings, ["VAST"])
    assert report.ok, report.error
    assert [q.get("resumptionToken") for q in _listings(app)] == ["past-the-end|||"]
    assert (await store.get_harvest_state("VAST"))[0] is None


@pytest.mark.asyncio
async def test_a_token_refused_before_the_list_is_whole_still_fails(
    store: RecordStore, settings: Settings
) -> None:
    """completeListSize says 30 records, only 20 came: a refused token is an error, not the end."""
    app = FaultyProvider(records=vietnamese_records(30, START), page_size=10)
    app.script = [None, None, Fault(oai_error="badArgument")]
    with serve_in_thread(app) as url:
        report = await _harvest_one(store, settings, url + "/oai")
    assert not report.ok and report.error and "badArgument" in report.error
    assert (await store.get_harvest_state("VAST"))[0]["token"] == "20|||"


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [*OAI_ERRORS, "tooBusy", ""])
async def test_every_oai_error_code_is_raised_as_its_own_class(
    provider: tuple[FaultyProvider, str], settings: Settings, code: str
) -> None:
    """The eight codes of OAI-PMH 2.0 each have a class; any other code is kept as it was sent."""
    app, url = provider
    app.script = [Fault(oai_error=code)]
    async with make_http_client(settings) as http:
        with pytest.raises(OAIError) as caught:
            await OAIClient(url, settings, http).request("ListRecords", metadataPrefix="oai_dc")
    assert type(caught.value) is OAI_ERRORS.get(code, UnknownOAIError)
    assert caught.value.code == (code or "unknown")
    assert str(caught.value) == f"{code or 'unknown'}: scripted"


@pytest.mark.asyncio
async def test_resumption_token_loop_is_an_error_not_a_hang(
    provider: tuple[FaultyProvider, str], store: RecordStore, settings: Settings
) -> None:
    app, url = provider
    app.loop_token = True
    report = await _harvest_one(store, settings, url)
    assert not report.ok and report.error and "ResumptionTokenLoop" in report.error
    assert len(_listings(app)) == 2  # page 2 hands back its own token: stop there
    assert len(await stored(store)) == 20
    in_progress, _ = await store.get_harvest_state("VAST")
    assert in_progress is None  # the next run starts the listing again instead of looping


@pytest.mark.asyncio
async def test_oversized_response_is_refused(provider: tuple[FaultyProvider, str], tmp_path: Path) -> None:
    app, url = provider
    app.script = [Fault(body=b"<OAI-PMH>" + b"x" * 50_000 + b"</OAI-PMH>")]
    settings = Settings(home=tmp_path, backoff_base=0.01, max_response_bytes=20_000)
    async with _store(settings) as own:
        report = await _harvest_one(own, settings, url)
        assert not report.ok and report.error and "exceeds the cap of 20000" in report.error
        [item] = await own.list_quarantine("VAST")
    assert item.reason.startswith("unsafe ListRecords page")
    assert len(_listings(app)) == 1  # refused, not retried


@pytest.mark.asyncio
async def test_xxe_and_billion_laughs_are_refused_and_other_members_go_on(
    store: RecordStore, settings: Settings
) -> None:
    apps = {
        "XXE": FaultyProvider(script=[Fault(body=XXE)]),
        "XXEDTD": FaultyProvider(script=[Fault(body=XXE_INTERNAL)]),
        "LAUGHS": FaultyProvider(script=[Fault(body=LAUGHS)]),
        "GOOD": FaultyProvider(records=vietnamese_records(12, START)),
    }
    with contextlib.ExitStack() as stack:
        for code, app in apps.items():
            await add_member(store, code, stack.enter_context(serve_in_thread(app)) + "/oai")
        reports = {r.member: r for r in await harvest_members(store, settings)}
    assert reports["GOOD"].ok and reports["GOOD"].added == 12
    for code in ("XXE", "XXEDTD", "LAUGHS"):
        report = reports[code]
        assert not report.ok and report.error and "refused" in report.error, report
        [item] = await store.list_quarantine(code)
        assert "root:" not in item.raw and "lollol" not in item.raw
    assert set((await stored(store)).keys()) == {f"oai:faulty:{i:06d}" for i in range(12)}


def test_parser_refuses_entities_and_cleans_illegal_characters() -> None:
    for payload in (XXE, XXE_INTERNAL, LAUGHS):
        with pytest.raises(UnsafeXML):
            parse_xml(payload)
    utf16 = XXE_INTERNAL.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16")
    with pytest.raises(UnsafeXML):
        parse_xml(utf16)
    parsed = parse_xml("<a>Hà\x0b Nội&#27; \x1b".encode() + b"\xff</a>")
    assert parsed.cleaned and parsed.root.text == "Hà Nội \ufffd"
    assert clean_xml_bytes(b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9\x0c</a>').endswith(
        b"<a>\xe9</a>"
    )
    with pytest.raises(MalformedXML):
        parse_xml(b"<a><b></a>")
    assert not parse_xml(b"<!DOCTYPE OAI-PMH><OAI-PMH/>").cleaned


@contextlib.asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[RecordStore]:
    """A store of its own for tests that need different settings."""
    own = await RecordStore.open(settings.db_url)
    try:
        yield own
    finally:
        await own.close()

"""Hostile repositories cannot hold a harvest for ever: deadlines per request, page and run, and a
listing that never ends is abandoned. Each attack ends in a clean failed run, quickly."""

from __future__ import annotations

import time

import pytest

from harvesters.oai.client import OAIClient, make_http_client
from harvesters.oai.errors import DeadlineExceeded, ListOverrun
from harvesters.runner import harvest_members
from schemas.errors import HarvestError
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from tests.servers.faulty import Fault, FaultyProvider, vietnamese_records
from tests.servers.hostile import EndlessTokens, TricklingProvider

from .support import add_member, stored
from .test_faults import START


@pytest.mark.asyncio
async def test_a_trickling_server_is_cut_at_the_request_deadline(settings: Settings) -> None:
    """One byte every 0.2 s keeps every read within its timeout; the request deadline still ends it."""
    app = TricklingProvider(interval=0.2)
    quick = settings.model_copy(update={"request_deadline": 1.0, "max_retries": 1, "backoff_base": 0.01})
    with serve_in_thread(app) as url:
        async with make_http_client(quick) as http:
            started = time.monotonic()
            with pytest.raises(HarvestError, match="failed after 2 attempts: unreachable"):
                await OAIClient(url + "/oai", quick, http).identify()
            took = time.monotonic() - started
    assert 2.0 <= took < 4.0, took
    assert len(app.requests) == 2


@pytest.mark.asyncio
async def test_the_page_deadline_bounds_the_retries(store: RecordStore, settings: Settings) -> None:
    app = TricklingProvider(interval=0.1)
    patient = settings.model_copy(
        update={"request_deadline": 0.5, "max_retries": 50, "backoff_base": 0.01, "page_deadline": 1.5}
    )
    with serve_in_thread(app) as url:
        await add_member(store, "TRICKLE", url + "/oai")
        started = time.monotonic()
        [report] = await harvest_members(store, patient, ["TRICKLE"])
    assert time.monotonic() - started < 4.0
    assert report.ok is False and "DeadlineExceeded" in (report.error or "")
    assert "page deadline (1.5 s)" in (report.error or "")


@pytest.mark.asyncio
async def test_the_run_deadline_ends_a_run_that_goes_on(store: RecordStore, settings: Settings) -> None:
    """Pages keep coming, slowly: the run stops at its deadline, keeps what it stored, and the next
    run resumes where it stopped."""
    app = FaultyProvider(records=vietnamese_records(40, START), page_size=2, delay=0.15)
    short = settings.model_copy(update={"harvest_run_deadline": 1.0, "harvest_parse_workers": 0})
    with serve_in_thread(app) as url:
        await add_member(store, "SLOW", url + "/oai")
        started = time.monotonic()
        [cut] = await harvest_members(store, short, ["SLOW"])
        assert time.monotonic() - started < 3.0
        assert cut.ok is False and "DeadlineExceeded" in (cut.error or "") and "resumes" in (cut.error or "")
        kept = len(await stored(store))
        assert 0 < kept < 40
        [rest] = await harvest_members(store, settings, ["SLOW"])
    assert rest.ok, rest.error
    assert len(await stored(store)) == 40


@pytest.mark.asyncio
async def test_endless_tokens_stop_past_the_declared_size(store: RecordStore, settings: Settings) -> None:
    """completeListSize=3, then a new token with every page for ever: abandoned after the margin."""
    app = EndlessTokens(declared=3)
    margin = settings.model_copy(update={"list_size_margin": 5})
    with serve_in_thread(app) as url:
        await add_member(store, "ENDLESS", url + "/oai")
        started = time.monotonic()
        [report] = await harvest_members(store, margin, ["ENDLESS"])
    assert time.monotonic() - started < 10
    assert report.ok is False and "ListOverrun" in (report.error or "")
    assert "completeListSize 3" in (report.error or "")
    pages = [q for q in app.requests if q.get("verb") == "ListRecords"]
    assert 9 <= len(pages) <= 12, len(pages)  # 3 + 5 allowed, the 9th is one too many (+ read-ahead)
    assert (await store.get_harvest_state("ENDLESS"))[0] is None, "the next run does not resume at a token"


@pytest.mark.asyncio
async def test_endless_identifiers_stop_too(settings: Settings) -> None:
    """The same bound for the lists reconciliation reads (ListIdentifiers) and every other list."""
    app = EndlessTokens(declared=3)
    margin = settings.model_copy(update={"list_size_margin": 5})
    with serve_in_thread(app) as url:
        async with make_http_client(margin) as http:
            client = OAIClient(url + "/oai", margin, http)
            with pytest.raises(ListOverrun, match="completeListSize 3"):
                async for _ in client.list_identifiers("oai_dc"):
                    pass
    assert len(app.requests) == 9


@pytest.mark.asyncio
async def test_a_repeated_token_still_stops_the_listing(store: RecordStore, settings: Settings) -> None:
    app = FaultyProvider(records=vietnamese_records(6, START), page_size=2, loop_token=True)
    with serve_in_thread(app) as url:
        await add_member(store, "LOOP", url + "/oai")
        [report] = await harvest_members(store, settings, ["LOOP"])
    assert report.ok is False and "ResumptionTokenLoop" in (report.error or "")


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 403, 404, 410])
async def test_client_errors_are_not_retried(settings: Settings, status: int) -> None:
    app = FaultyProvider(records=vietnamese_records(2, START))
    app.script = [Fault(status=status)] * 10
    patient = settings.model_copy(update={"max_retries": 5})
    with serve_in_thread(app) as url:
        async with make_http_client(patient) as http:
            with pytest.raises(HarvestError, match=f"answered HTTP {status}"):
                await OAIClient(url + "/oai", patient, http).list_page("ListRecords", "oai_dc")
    assert len(app.requests) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [408, 429])
async def test_timeouts_and_throttling_answers_are_retried(settings: Settings, status: int) -> None:
    app = FaultyProvider(records=vietnamese_records(2, START))
    app.script = [Fault(status=status, retry_after="0")]
    with serve_in_thread(app) as url:
        async with make_http_client(settings) as http:
            page = await OAIClient(url + "/oai", settings, http).list_page("ListRecords", "oai_dc")
    assert len(page.items) == 2 and len(app.requests) == 2


def test_deadlines_have_sane_defaults() -> None:
    defaults = Settings(harvest_allow_networks=[])
    assert defaults.request_timeout < defaults.request_deadline < defaults.page_deadline
    assert defaults.page_deadline < defaults.harvest_run_deadline <= 24 * 3600
    assert defaults.harvest_allow_networks == [] and defaults.max_redirects == 5
    assert issubclass(DeadlineExceeded, HarvestError)

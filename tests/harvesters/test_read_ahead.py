"""With several parse workers, pages are read ahead of their turn and still stored in order, once each.

The decoder here reads pages on the event loop after a pause, as a worker would take time, and says it
can read two at once: what is checked is the harvest's scheduling (which pages are asked for, when
they are read, what is stored), with every page still fetched over HTTP from a provider on loopback.
"""

from __future__ import annotations

import asyncio

import pytest

from harvesters.oai.client import HostLimiter, make_http_client
from harvesters.records import RowsPage, read_rows_page
from harvesters.runner import MemberHarvest
from harvesters.workers import PageDecoder
from schemas.member import RunReport
from schemas.progress import NullProgress
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from tests.servers.faulty import Fault, FaultyProvider, vietnamese_records

from .support import add_member, snapshot
from .test_faults import START


class SlowDecoder(PageDecoder):
    """Reads a page after a pause, letting a list read ``ahead`` pages ahead; counts pages read at once."""

    def __init__(self, ahead: int, pause: float = 0.05) -> None:
        super().__init__(0)
        self.ahead = ahead
        self.pause = pause
        self.reading = 0
        self.most = 0

    @property
    def read_ahead(self) -> int:
        return self.ahead

    async def decode(self, data: bytes, member: str, metadata_prefix: str) -> RowsPage:
        self.reading += 1
        self.most = max(self.most, self.reading)
        try:
            await asyncio.sleep(self.pause)
            return read_rows_page(data, member, metadata_prefix)
        finally:
            self.reading -= 1


async def _harvest(store: RecordStore, settings: Settings, url: str, decoder: PageDecoder) -> RunReport:
    await add_member(store, "VAST", url + "/oai")
    member = await store.get_member("VAST")
    async with make_http_client(settings) as http:
        job = MemberHarvest(
            store, settings, member, http, HostLimiter(1), False, NullProgress(), None, decoder
        )  # fmt: skip
        return await job.run()


def _asked(app: FaultyProvider) -> list[str | None]:
    return [q.get("resumptionToken") for q in app.requests if q.get("verb") == "ListRecords"]


@pytest.mark.asyncio
@pytest.mark.parametrize("ahead", [0, 1, 2])
async def test_pages_read_ahead_are_stored_as_read_one_by_one(
    store: RecordStore, settings: Settings, tmp_path_factory: pytest.TempPathFactory, ahead: int
) -> None:
    app = FaultyProvider(records=vietnamese_records(75, START), page_size=10)
    decoder = SlowDecoder(ahead)
    with serve_in_thread(app) as url:
        report = await _harvest(store, settings, url, decoder)
        other = Settings(home=tmp_path_factory.mktemp("one-by-one"))
        alone = await RecordStore.open(other.db_url)
        try:
            await _harvest(alone, other, url, PageDecoder(0))
            expected = await snapshot(alone)
        finally:
            await alone.close()
    assert report.ok and report.added == 75 and report.pages == 8, report.error
    assert await snapshot(store) == expected
    # pages are read ahead as far as the decoder allows, and each is still asked for once, in order
    assert decoder.most == ahead + 1
    tokens = [None] + [f"{n}|||" for n in range(10, 80, 10)]
    assert _asked(app) == tokens + tokens


@pytest.mark.asyncio
async def test_a_page_read_ahead_that_fails_is_asked_again_in_its_turn(
    store: RecordStore, settings: Settings
) -> None:
    """Page 3, asked for while pages 1 and 2 are read, gets a 503 first: nothing lost or doubled."""
    app = FaultyProvider(records=vietnamese_records(50, START), page_size=10)
    app.script = [None, None, Fault(status=503, retry_after="0")]  # list requests: pages 1, 2, 3
    with serve_in_thread(app) as url:
        report = await _harvest(store, settings, url, SlowDecoder(2))
    assert report.ok and report.added == 50, report.error
    assert _asked(app) == [None, "10|||", "20|||", "20|||", "30|||", "40|||"]


@pytest.mark.asyncio
async def test_an_expired_token_met_ahead_restarts_the_list_once(
    store: RecordStore, settings: Settings
) -> None:
    app = FaultyProvider(records=vietnamese_records(40, START), page_size=10)
    app.script = [None, None, Fault(oai_error="badResumptionToken")]
    with serve_in_thread(app) as url:
        report = await _harvest(store, settings, url, SlowDecoder(2))
    assert report.ok and report.added == 40, report.error
    assert _asked(app) == [None, "10|||", "20|||", None, "10|||", "20|||", "30|||"]


@pytest.mark.asyncio
async def test_a_broken_page_read_ahead_is_fetched_again_before_any_later_page(
    store: RecordStore, settings: Settings
) -> None:
    """Page 2 arrives cut short once (its end, and so the next token, is lost): it is fetched again."""
    app = FaultyProvider(records=vietnamese_records(40, START), page_size=10)
    app.script = [None, Fault(transform=lambda body: body[: len(body) // 2])]
    with serve_in_thread(app) as url:
        report = await _harvest(store, settings, url, SlowDecoder(2))
    assert report.ok and report.added == 40, report.error
    assert _asked(app) == [None, "10|||", "10|||", "20|||", "30|||"]

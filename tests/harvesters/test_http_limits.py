"""What the harvester promises a repository's server and itself, watched from the server's side.

The size cap holds while the body streams in (a chunked body with no Content-Length, a gzip bomb whose
Content-Length is small), a Retry-After given as an HTTP date is waited out, and two members on one
host never have two requests in flight at once. Real loopback servers; the server keeps the times.
"""

from __future__ import annotations

import contextlib
import email.utils
import itertools
import math
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harvesters.runner import harvest_members
from schemas.member import RunReport
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from tests.servers.faulty import Fault, FaultyProvider, Span, gzip_bomb, vietnamese_records

from .support import add_member, stored

pytestmark = pytest.mark.asyncio

START = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
CAP = 1_000_000


@pytest.fixture
def provider() -> Iterator[tuple[FaultyProvider, str]]:
    app = FaultyProvider(records=vietnamese_records(25, START))
    with serve_in_thread(app) as url:
        yield app, url + "/oai"


@contextlib.asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[RecordStore]:
    opened = await RecordStore.open(settings.db_url)
    try:
        yield opened
    finally:
        await opened.close()


async def _harvest(settings: Settings, urls: dict[str, str]) -> dict[str, RunReport]:
    async with _store(settings) as store:
        for code, url in urls.items():
            await add_member(store, code, url)
        return {r.member: r for r in await harvest_members(store, settings, list(urls))}


def _listings(app: FaultyProvider) -> list[Span]:
    return [s for s in app.spans if s.query.get("verb") == "ListRecords"]


async def _refused_for_size(app: FaultyProvider, url: str, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, backoff_base=0.01, max_response_bytes=CAP)
    async with _store(settings) as store:
        await add_member(store, "VAST", url)
        [report] = await harvest_members(store, settings, ["VAST"])
        assert not report.ok and report.error and f"exceeds the cap of {CAP}" in report.error, report
        [item] = await store.list_quarantine("VAST")
        assert item.reason.startswith("unsafe ListRecords page")
        assert await stored(store) == {}
    assert len(_listings(app)) == 1  # refused, not fetched again


async def test_size_cap_holds_for_a_chunked_body_without_content_length(
    provider: tuple[FaultyProvider, str], tmp_path: Path
) -> None:
    app, url = provider
    endless = 256 * CAP  # far more than the cap and any socket buffers between the two ends
    app.script = [Fault(stream=endless)]
    await _refused_for_size(app, url, tmp_path)
    [streamed] = app.streams
    # the client hung up once the cap was passed, instead of reading on to the end
    assert streamed.client_left and streamed.sent < endless // 4, streamed


async def test_size_cap_holds_for_a_gzip_bomb(provider: tuple[FaultyProvider, str], tmp_path: Path) -> None:
    app, url = provider
    inflated = 100 * CAP
    assert len(gzip_bomb(inflated)) < CAP  # so the Content-Length check alone lets it through
    app.script = [Fault(gzip_bomb=inflated)]
    await _refused_for_size(app, url, tmp_path)


async def test_retry_after_http_date_is_waited_for(
    provider: tuple[FaultyProvider, str], tmp_path: Path
) -> None:
    app, url = provider
    # an HTTP date has whole seconds: a whole second five to six seconds ahead
    until = math.ceil(time.time()) + 6
    app.script = [Fault(status=503, retry_after=email.utils.formatdate(until, usegmt=True))]
    settings = Settings(home=tmp_path, backoff_base=0.01, max_retry_after=60)
    reports = await _harvest(settings, {"VAST": url})
    assert reports["VAST"].ok and reports["VAST"].added == 25, reports["VAST"].error
    refused, retried = _listings(app)[:2]
    assert refused.arrived < until - 1, "the 503 came too late for the wait to be seen"
    # not the 0.01 s backoff: no earlier than the date (less a little for clock granularity)
    assert retried.arrived >= until - 0.05, f"retried {until - retried.arrived:.2f} s before the date"
    assert retried.arrived < until + 30  # and it did come back


def _overlaps(spans: list[Span]) -> list[tuple[Span, Span]]:
    ordered = sorted(spans, key=lambda s: s.arrived)
    return [(a, b) for a, b in itertools.pairwise(ordered) if b.arrived < a.finished]


async def _two_members_on_one_host(tmp_path: Path, per_host: int) -> FaultyProvider:
    # every answer takes a while, so requests sent together would be in flight together
    app = FaultyProvider(records=vietnamese_records(25, START), page_size=5, delay=0.15)
    settings = Settings(
        home=tmp_path, backoff_base=0.01, harvest_concurrency=4, per_host_concurrency=per_host
    )
    with serve_in_thread(app) as url:
        reports = await _harvest(settings, {"HUE": url + "/hue/oai", "TVU": url + "/tvu/oai"})
    assert all(r.ok and r.added == 25 for r in reports.values()), reports
    return app


async def test_two_members_on_one_host_never_have_two_requests_in_flight(tmp_path: Path) -> None:
    app = await _two_members_on_one_host(tmp_path, per_host=1)
    assert len(_listings(app)) >= 2 * 5  # five pages each
    assert _overlaps(app.spans) == []


async def test_the_server_sees_overlap_when_two_requests_per_host_are_allowed(tmp_path: Path) -> None:
    """The check above can fail: with a limit of two, the same harvest overlaps its requests."""
    app = await _two_members_on_one_host(tmp_path, per_host=2)
    assert _overlaps(app.spans)

"""Pages parsed in parse workers give exactly the store that parsing in the harvester gives."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harvesters.runner import harvest_members
from harvesters.workers import PARSE_WORKER_NICENESS, PageDecoder
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from tests.servers.faulty import FaultyProvider, vietnamese_records

from .support import add_member, snapshot

START = datetime(2024, 5, 10, 9, 30, tzinfo=UTC)


async def _harvest(tmp_path: Path, name: str, workers: int, url: str) -> list[tuple[str, str, bool, str]]:
    settings = Settings(home=tmp_path / name, harvest_parse_workers=workers)
    store = await RecordStore.open(settings.db_url)
    try:
        await add_member(store, "HUST", url + "/oai")
        [report] = await harvest_members(store, settings)
        assert report.ok and report.added == 60, report.error
        return await snapshot(store)
    finally:
        await store.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("workers", [1, 2])
async def test_parse_worker_harvest_equals_inline_harvest(tmp_path: Path, workers: int) -> None:
    app = FaultyProvider(records=vietnamese_records(60, START), page_size=10)
    with serve_in_thread(app) as url:
        inline = await _harvest(tmp_path, "inline", 0, url)
        app.requests.clear()
        in_workers = await _harvest(tmp_path, "workers", workers, url)
    assert in_workers == inline
    # pages read ahead by the workers are still each asked for once, in order
    asked = [q.get("resumptionToken") for q in app.requests if q.get("verb") == "ListRecords"]
    assert asked == [None] + [f"{n}|||" for n in range(10, 60, 10)]


@pytest.mark.asyncio
async def test_members_harvested_at_once_share_the_parse_workers(tmp_path: Path) -> None:
    """Three members' lists read ahead by the same two parse workers: each member's store as read inline."""
    sizes = {"HUST": 40, "VNU": 55, "HUE": 70}
    apps = {
        code: FaultyProvider(records=vietnamese_records(n, START), page_size=10) for code, n in sizes.items()
    }
    results = {}
    with contextlib.ExitStack() as stack:
        urls = {code: stack.enter_context(serve_in_thread(app)) for code, app in apps.items()}
        for name, workers in (("inline", 0), ("workers", 2)):
            settings = Settings(home=tmp_path / name, harvest_parse_workers=workers)
            store = await RecordStore.open(settings.db_url)
            try:
                for code, url in urls.items():
                    await add_member(store, code, url + "/oai")
                reports = await harvest_members(store, settings)
                assert {r.member: (r.ok, r.added) for r in reports} == {
                    c: (True, n) for c, n in sizes.items()
                }
                results[name] = await snapshot(store)
            finally:
                await store.close()
    assert results["workers"] == results["inline"]


@pytest.mark.asyncio
async def test_parse_workers_yield_the_cpu_to_the_harvest_and_searches() -> None:
    decoder = PageDecoder(1, automatic=False)
    decoder.expect(None)
    try:
        assert decoder._ready is not None and decoder._pool is not None
        await decoder._ready
        niceness = await asyncio.get_running_loop().run_in_executor(decoder._pool, os.nice, 0)
    finally:
        await decoder.close()
    assert niceness == min(os.nice(0) + PARSE_WORKER_NICENESS, 19)


@pytest.mark.asyncio
async def test_forced_parse_worker_really_parses_pages() -> None:
    app = FaultyProvider(records=vietnamese_records(5, START), page_size=10)
    body = app.page({"verb": "ListRecords", "metadataPrefix": "oai_dc"})
    decoder = PageDecoder(1, automatic=False)
    decoder.expect(None)
    try:
        page = await decoder.decode(body, "HUST", "oai_dc")
    finally:
        await decoder.close()
    assert decoder.pages_in_parse_workers == 1
    assert [json.loads(r.data)["title"] for r in page.records] == [r.title for r in app.records]

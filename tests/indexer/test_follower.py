"""Indexing beside a harvest: pages committed while it runs are searchable once it finishes, the
rounds batch pages together, a failed round loses nothing, and the follower's own process indexes the
store with the harvesting process doing nothing but committing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from indexer.follower import PROCESS_AFTER_PAGES, IndexFollower
from indexer.follower_process import IndexProcess
from indexer.pipeline import Indexer
from schemas.member import MemberCreate
from schemas.record import Identifiers, Record
from schemas.search import SearchRequest
from schemas.settings import Settings
from search.backend import SearchBackend
from search.factory import open_backend
from search.service import SearchService
from store.front import RecordStore

pytestmark = pytest.mark.asyncio
ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def index(settings: Settings) -> AsyncIterator[SearchBackend]:
    """The embedded index of the test's settings (the folder a follower process opens too)."""
    opened = await open_backend(settings)
    try:
        yield opened
    finally:
        await opened.close()


def _page(start: int, n: int = 20) -> list[Record]:
    return [
        Record(
            member="HUE",
            oai_identifier=f"oai:hue:{i}",
            title=f"Nông nghiệp bền vững vùng cao, tập {i}",
            authors=["Trần Thị Bích Ngọc"],
            year=2001 + i % 20,
            identifiers=Identifiers(isbn=[]),
        )
        for i in range(start, start + n)
    ]


async def _caught_up(store: RecordStore, backend: SearchBackend) -> bool:
    return not await store.work_changes_since(await backend.get_position(), limit=1)


async def test_pages_committed_beside_are_searchable_when_it_finishes(store, index) -> None:
    await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
    indexer = Indexer(store, index)
    async with IndexFollower(indexer.sync) as follower:
        for start in range(0, 100, 20):
            await store.commit_page("HUE", None, _page(start))
            await follower.committed()
    assert await _caught_up(store, index)
    found = await SearchService(index).search(SearchRequest(q="nong nghiep ben vung", size=0))
    assert found.total == 100


async def test_pages_committed_during_a_round_are_indexed_together(store, index) -> None:
    await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
    indexer = Indexer(store, index)
    rounds: list[int] = []

    async def slow_sync(until: Callable[[], bool] | None = None) -> int:
        await asyncio.sleep(0.2)  # a round longer than a page takes to commit
        applied = await indexer.sync()
        rounds.append(applied)
        return applied

    follower = IndexFollower(slow_sync)
    async with follower:
        for start in range(0, 200, 20):
            await store.commit_page("HUE", None, _page(start))
            await follower.committed()
            await asyncio.sleep(0.02)
    assert sum(rounds) == 200  # every work once
    assert len(rounds) < 10  # fewer rounds (and index commits) than pages
    assert await _caught_up(store, index)


async def test_a_failed_round_is_made_good_by_the_next(store, index) -> None:
    await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
    indexer = Indexer(store, index)
    failures = 0

    async def flaky_sync(until: Callable[[], bool] | None = None) -> int:
        nonlocal failures
        if failures == 0:
            failures += 1
            raise RuntimeError("the index is away")
        return await indexer.sync()

    async with IndexFollower(flaky_sync) as follower:
        await store.commit_page("HUE", None, _page(0))
        await follower.committed()  # never raises: the harvest goes on
        await asyncio.sleep(0.1)
        await store.commit_page("HUE", None, _page(20))
        await follower.committed()
    assert failures == 1
    assert await _caught_up(store, index)


async def test_the_follower_process_indexes_the_store(settings, store, index) -> None:
    await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
    process = IndexProcess(settings)
    process.start()
    try:
        began = time.monotonic()
        while not process.ready:
            assert time.monotonic() - began < 120, "the follower process did not start"
            await asyncio.sleep(0.1)
        for start in range(0, 100, 20):
            await store.commit_page("HUE", None, _page(start))
            process.wake()
    finally:
        await process.finish()
    # this process indexed nothing: the follower's last round caught the index up
    assert await _caught_up(store, index)
    await index.refresh()
    assert await index.count() == 100


async def test_the_process_is_started_once_a_harvest_proves_big(store, index) -> None:
    await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
    indexer = Indexer(store, index)
    asked: list[int] = []

    def not_now() -> IndexProcess | None:
        asked.append(1)
        return None

    async with IndexFollower(indexer.sync, not_now) as follower:
        for start in range(0, 20 * (PROCESS_AFTER_PAGES + 2), 20):
            await store.commit_page("HUE", None, _page(start))
            await follower.committed()
    # not for the first pages, then at each page until it starts; indexed here meanwhile
    assert len(asked) == 3
    assert await _caught_up(store, index)


_PARENT = """
import sys, time
from pathlib import Path
from indexer.follower_process import IndexProcess
from schemas.settings import Settings

if __name__ == "__main__":
    process = IndexProcess(Settings(home=Path(sys.argv[1])))
    process.start()
    while not process.ready:
        time.sleep(0.05)
    print(process.pid, flush=True)
    time.sleep(600)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
async def test_the_follower_process_ends_with_a_killed_harvest(tmp_path: Path) -> None:
    script = tmp_path / "harvest.py"
    script.write_text(_PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "var")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its semaphores' clean-up notice once it is killed
        text=True,
    )
    try:
        assert parent.stdout is not None
        follower = int(await asyncio.wait_for(asyncio.to_thread(parent.stdout.readline), 120))
        assert _running(follower)
        parent.send_signal(signal.SIGKILL)  # kill -9: nothing in the harvesting process runs again
    finally:
        parent.wait(timeout=10)
    for _ in range(200):
        if not _running(follower):
            break
        await asyncio.sleep(0.05)
    assert not _running(follower)


class _ReadyProcess:
    """Stands for an index process that has started: it counts what it is told."""

    ready = True

    def __init__(self) -> None:
        self.woken = 0
        self.finished = False

    def wake(self) -> None:
        self.woken += 1

    async def finish(self) -> None:
        self.finished = True


async def test_rounds_here_stop_once_the_process_has_taken_over(store, index) -> None:
    await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
    indexer = Indexer(store, index)
    process = _ReadyProcess()
    stopped_early: list[bool] = []

    async def sync(until: Callable[[], bool] | None = None) -> int:
        stopped_early.append(until is not None and until())
        return await indexer.sync(until)

    async with IndexFollower(sync, lambda: process) as follower:
        for start in range(0, 20 * (PROCESS_AFTER_PAGES + 3), 20):
            await store.commit_page("HUE", None, _page(start))
            await follower.committed()
    assert process.woken == 4  # the pages from the one that started it on go to the process
    assert process.finished
    assert stopped_early.count(False) >= 1  # the last round, here, runs to the end
    assert await _caught_up(store, index)

"""The index follows the store: changes become searchable, tombstones leave, rebuilds swap without a gap.

Runs on every backend (the embedded index and a real search node).
"""

from __future__ import annotations

import asyncio
import time

import pytest

from indexer.pipeline import Indexer
from schemas.member import MemberCreate
from schemas.record import Identifiers, Record
from schemas.search import SearchRequest
from search.service import SearchService
from store.front import RecordStore

pytestmark = pytest.mark.asyncio


def _records(n: int, member: str = "HUE") -> list[Record]:
    return [
        Record(
            member=member,
            oai_identifier=f"oai:hue:{i}",
            title=f"Thư viện số và chuyển đổi số, tập {i}",
            authors=["Nguyễn Văn An"],
            year=2000 + i % 25,
            identifiers=Identifiers(isbn=[]),
        )
        for i in range(n)
    ]


async def _total(service: SearchService, q: str) -> int:
    return (await service.search(SearchRequest(q=q, size=0))).total


async def _seeded(store: RecordStore, n: int) -> None:
    await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
    await store.commit_page("HUE", None, _records(n))


async def test_committed_change_becomes_searchable_while_following(store, backend) -> None:
    # The delay itself (aim: 2 s) is a bench figure; on a loaded machine the test only waits with a cap.
    await _seeded(store, 3)
    indexer, service = Indexer(store, backend), SearchService(backend)
    stop = asyncio.Event()
    follower = asyncio.create_task(indexer.follow(1.0, stop))
    try:
        new = Record(member="HUE", oai_identifier="oai:hue:new", title="Khoa học máy tính lượng tử")
        await store.commit_page("HUE", None, [new])
        committed = time.monotonic()
        while await _total(service, "may tinh luong tu") == 0:
            assert time.monotonic() - committed < 30.0, "a committed record was not searchable within 30 s"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await follower


async def test_tombstone_leaves_the_index(store, backend) -> None:
    await _seeded(store, 5)
    indexer, service = Indexer(store, backend), SearchService(backend)
    await indexer.sync()
    assert await _total(service, "thu vien so") == 5
    gone = _records(1)[0].model_copy(update={"deleted": True})
    await store.commit_page("HUE", None, [gone])
    assert await indexer.sync() == 1
    assert await _total(service, "thu vien so") == 4
    assert await backend.get(gone.id) is None


async def test_sync_twice_is_a_no_op(store, backend) -> None:
    await _seeded(store, 5)
    indexer = Indexer(store, backend)
    assert await indexer.sync() == 5
    assert await indexer.sync() == 0
    last_change = (await store.work_changes_since(0, limit=1000))[-1][1]
    assert await backend.get_position() == last_change


async def test_searches_answer_in_full_during_a_rebuild(store, backend) -> None:
    await _seeded(store, 300)
    indexer, service = Indexer(store, backend, batch=25), SearchService(backend)
    await indexer.sync()
    seen: list[int] = []
    rebuild = asyncio.create_task(indexer.reindex())
    while not rebuild.done():
        seen.append(await _total(service, "chuyen doi so"))
        await asyncio.sleep(0)
    report = await rebuild
    assert report.indexed == 300 and report.old_index is not None
    assert seen and set(seen) == {300}, "a search during the rebuild saw a partial index"
    assert await _total(service, "chuyen doi so") == 300


async def test_rebuild_keeps_one_previous_index_for_rollback(store, backend) -> None:
    await _seeded(store, 10)
    indexer = Indexer(store, backend)
    await indexer.sync()
    first = await indexer.reindex()
    second = await indexer.reindex()
    indexes = await backend.list_indexes()
    assert second.old_index == first.new_index
    assert set(indexes) == {first.new_index, second.new_index}
    assert await backend.live_index() == second.new_index


class _Crash(RuntimeError):
    pass


class _CrashingProgress:
    """A progress sink that fails half-way, as a killed or failing rebuild would."""

    def begin(self, task: str, total: int | None = None) -> None:
        self.done = 0

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        self.done += n
        if self.done >= 50:
            raise _Crash("rebuild interrupted")

    def end(self, task: str, ok: bool = True, message: str = "") -> None:
        pass


async def test_failed_rebuild_leaves_the_live_index_untouched(store, backend) -> None:
    await _seeded(store, 120)
    indexer, service = Indexer(store, backend, batch=25), SearchService(backend)
    await indexer.sync()
    live, indexes = await backend.live_index(), await backend.list_indexes()
    with pytest.raises(_Crash):
        await indexer.reindex(progress=_CrashingProgress())
    assert await backend.live_index() == live
    assert await backend.list_indexes() == indexes, "the half-built index must be dropped"
    assert await _total(service, "thu vien") == 120


async def test_a_lazy_sync_commits_at_most_once_a_second_and_the_last_sync_commits_all(
    store, backend, monkeypatch
) -> None:
    # The index follower of a harvest syncs after every page; committing each time costs more than
    # the indexing itself, so it commits once COMMIT_SECONDS have passed, and its last sync commits.
    from indexer import pipeline

    monkeypatch.setattr(pipeline, "COMMIT_SECONDS", 3600.0)
    await _seeded(store, 4)
    indexer, service = Indexer(store, backend), SearchService(backend)
    await indexer.sync()  # a first, eager sync commits (and starts the clock)
    assert await _total(service, "thu vien so") == 4
    more = [
        Record(member="HUE", oai_identifier=f"oai:hue:more{i}", title=f"Khoa học dữ liệu, tập {i}")
        for i in range(3)
    ]
    await store.commit_page("HUE", None, more)
    assert await indexer.sync(lazy=True) == 3  # written, not committed: the last commit is too recent
    assert await _total(service, "khoa hoc du lieu") == 0
    assert await indexer.sync(lazy=True) == 0  # goes on from where it stopped: nothing written twice
    monkeypatch.setattr(pipeline, "COMMIT_SECONDS", 0.0)
    await indexer.sync(lazy=True)  # the clock ran out: committed, though nothing new came
    assert await _total(service, "khoa hoc du lieu") == 3
    monkeypatch.setattr(pipeline, "COMMIT_SECONDS", 3600.0)
    await store.commit_page(
        "HUE", None, [Record(member="HUE", oai_identifier="oai:hue:last", title="Khoa học vũ trụ")]
    )
    await indexer.sync(lazy=True)
    await indexer.sync()  # the last sync of a harvest: everything committed
    assert await _total(service, "khoa hoc vu tru") == 1
    assert await store.work_changes_since(await backend.get_position()) == []

"""A rebuild replays what was committed while it ran: the new live index has those commits and deletions.

The changes are made half-way through the rebuild (after its first batch) by a second store on the
same database, in a thread of its own, as another process would: records the rebuild has already
copied are deleted and rewritten, and a new record arrives. Runs on every backend.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from indexer.pipeline import Indexer
from schemas.member import MemberCreate
from schemas.record import Record
from schemas.search import SearchRequest
from schemas.settings import Settings
from search.backend import SearchBackend
from search.service import SearchService
from store.front import RecordStore

pytestmark = pytest.mark.asyncio

BATCH = 10


def _record(i: int, **changes: object) -> Record:
    base = Record(
        member="HUE",
        oai_identifier=f"oai:hue:{i}",
        title=f"Thư viện số và chuyển đổi số, tập {i}",
        authors=["Nguyễn Văn An"],
        year=2000 + i % 25,
    )
    return base.model_copy(update=changes)


DELETED = _record(3, deleted=True)
REWRITTEN = _record(5, title="Địa chất thủy văn vùng Tây Nguyên")
ADDED = Record(member="HUE", oai_identifier="oai:hue:new", title="Khoa học máy tính lượng tử")


class _ChangesAfterFirstBatch:
    """A progress sink: once the first batch is in the new index, another store commits changes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.committed = False

    def begin(self, task: str, total: int | None = None) -> None:
        pass

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        if not self.committed:
            self.committed = True
            _commit_elsewhere(self.url, [DELETED, REWRITTEN, ADDED])

    def end(self, task: str, ok: bool = True, message: str = "") -> None:
        pass


def _commit_elsewhere(url: str, page: list[Record]) -> None:
    """Commit ``page`` through a store of its own, on its own event loop, and wait until it is done."""
    failure: list[BaseException] = []

    async def commit() -> None:
        other = await RecordStore.open(url)
        try:
            await other.commit_page("HUE", None, page)
        finally:
            await other.close()

    def run() -> None:
        try:
            asyncio.run(commit())
        except BaseException as exc:  # re-raised in the rebuild's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="other-writer")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


async def _total(service: SearchService, q: str) -> int:
    return (await service.search(SearchRequest(q=q, size=0))).total


async def test_rebuild_replays_commits_and_deletions_made_while_it_ran(
    store: RecordStore, settings: Settings, backend: SearchBackend
) -> None:
    await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
    await store.commit_page("HUE", None, [_record(i) for i in range(100)])
    indexer, service = Indexer(store, backend, batch=BATCH), SearchService(backend)
    await indexer.sync()
    before = await store.max_seq()

    sink = _ChangesAfterFirstBatch(settings.db_url)
    report = await indexer.reindex(progress=sink)

    assert sink.committed and await store.max_seq() > before  # the changes landed during the rebuild
    assert report.old_index is not None and await backend.live_index() == report.new_index
    # records 3 and 5 were copied in the first batch, before they changed: only a replay fixes them
    # each record is a work of its own here (no shared identifier, distinct titles)
    assert await _total(service, '"tap 3"') == 0, "a record deleted during the rebuild is still found"
    assert await _total(service, "tay nguyen") == 1, "a record rewritten during the rebuild is stale"
    assert await _total(service, "thu vien so") == 98
    assert await _total(service, "may tinh luong tu") == 1
    assert not await store.work_changes_since(await backend.get_position()), "the index is behind"

"""The record store: idempotent upserts, tombstones, checkpoints and quarantine survive as a user expects."""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

import pytest

from schemas.errors import MemberExists, NotFound
from schemas.member import MemberCreate
from schemas.record import Identifiers, QuarantinedItem, Record
from store.front import RecordStore

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]


def _rec(i: int, **changes: object) -> Record:
    base = Record(
        member="VAST",
        oai_identifier=f"oai:vast:{i}",
        title=f"Nghiên cứu số {i}",
        identifiers=Identifiers(isbn=["9786040000001"] if i == 0 else []),
    )
    return base.model_copy(update=changes)


async def _member(store: RecordStore) -> None:
    await store.add_member(MemberCreate(code="vast", name_vi="Viện Hàn lâm KH&CN Việt Nam"))


async def test_duplicate_member_code_is_refused(store: RecordStore) -> None:
    await _member(store)
    with pytest.raises(MemberExists, match="VAST"):
        await _member(store)
    with pytest.raises(NotFound):
        await store.get_member("NOPE")


async def test_two_admins_adding_the_same_code_at_once_get_one_member_and_one_clear_error(
    store: RecordStore,
) -> None:
    """The API and a CLI command may register the same member at the same moment."""
    outcomes = await asyncio.gather(*(_member(store) for _ in range(4)), return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(errors) == 3, outcomes
    assert all(isinstance(e, MemberExists) and "VAST" in str(e) for e in errors), errors
    assert [m.code for m in await store.list_members()] == ["VAST"]


async def test_same_page_twice_changes_nothing(store: RecordStore) -> None:
    await _member(store)
    page = [_rec(i) for i in range(20)]
    first = await store.commit_page("VAST", None, page)
    seq = await store.max_seq()
    again = await store.commit_page("VAST", None, page)
    assert (first.added, again.added, again.unchanged) == (20, 0, 20)
    assert await store.max_seq() == seq, "unchanged records must not be re-fed to the index"
    assert (await store.record_counts())["VAST"].active == 20


async def test_change_and_tombstone_are_counted_and_fed(store: RecordStore) -> None:
    await _member(store)
    await store.commit_page("VAST", None, [_rec(i) for i in range(3)])
    before = await store.max_seq()
    counts = await store.commit_page("VAST", None, [_rec(0, deleted=True), _rec(1, title="Mới")])
    assert (counts.deleted, counts.updated) == (1, 1)
    changed = await store.changes_since(before)
    assert {(c.record.oai_identifier, c.deleted) for c in changed} == {
        ("oai:vast:0", True),
        ("oai:vast:1", False),
    }
    assert await store.find_by_identifier("isbn", "9786040000001") == [], "a deleted record holds nothing"
    counts_now = (await store.record_counts())["VAST"]
    assert (counts_now.active, counts_now.deleted) == (2, 1)


async def test_checkpoint_is_saved_with_the_page(store: RecordStore) -> None:
    await _member(store)
    run = await store.start_run("VAST", "harvest")
    await store.commit_page("VAST", run.id, [_rec(1)], state={"token": "page-2"})
    state, high_water = await store.get_harvest_state("VAST")
    assert state == {"token": "page-2"} and high_water is None
    report = await store.finish_run(run.id, ok=True)
    assert (report.pages, report.added, report.ok) == (1, 1, True)


async def test_quarantine_keeps_reason_and_clears_when_record_heals(store: RecordStore) -> None:
    await _member(store)
    bad = QuarantinedItem(member="VAST", reason="not well-formed", oai_identifier="oai:vast:7", raw="<x")
    await store.commit_page("VAST", None, [], [bad])
    await store.commit_page("VAST", None, [], [bad])  # the same bad record seen again is one item
    items = await store.list_quarantine("VAST")
    assert [(i.oai_identifier, i.reason) for i in items] == [("oai:vast:7", "not well-formed")]
    await store.commit_page("VAST", None, [_rec(7)])
    assert await store.list_quarantine("VAST") == []


async def test_concurrent_pages_in_one_process_get_distinct_change_numbers(store: RecordStore) -> None:
    """Members harvested at once must not share change numbers, or the index would skip records."""
    for code in ("A1", "B2", "C3", "D4"):
        await store.add_member(MemberCreate(code=code, name_vi=code))

    async def harvest(code: str) -> None:
        for page in range(5):
            recs = [
                Record(member=code, oai_identifier=f"oai:{code}:{page}:{i}", title=f"{code} {i}")
                for i in range(40)
            ]
            await store.commit_page(code, None, recs)

    await asyncio.gather(*(harvest(c) for c in ("A1", "B2", "C3", "D4")))
    seqs = [c.seq for c in await store.changes_since(0, limit=10_000)]
    assert len(seqs) == 4 * 5 * 40
    assert len(set(seqs)) == len(seqs), "two records share a change number"


WRITERS = ("HUE", "TVU")
PAGES, SIZE = 40, 10


async def _writer(url: str, member: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.store.writer_process",
        url,
        member,
        str(PAGES),
        str(SIZE),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    ready = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
    assert ready == b"ready\n", ready + (await proc.stderr.read() if proc.stderr else b"")
    return proc


async def test_change_numbers_follow_commit_order_across_processes_while_a_reader_follows(
    store: RecordStore, database_url: str
) -> None:
    """Two OS processes commit pages at once while this one follows the feed as the indexer does.

    The follower reads "changes after the last number I saw". If a number could commit after a higher
    one (numbers taken in one order, transactions committed in another), the follower would move past
    it and never see that record: so every record must reach it, each writer's pages in its order.
    """
    for code in WRITERS:
        await store.add_member(MemberCreate(code=code, name_vi=f"Thư viện {code}"))
    writers = [await _writer(database_url, code) for code in WRITERS]
    try:
        for proc in writers:  # both are connected and waiting: start them together
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        waiting = asyncio.gather(*(proc.communicate() for proc in writers))

        position, reads = 0, 0
        seen: dict[str, int] = {}
        while True:
            running = not waiting.done()
            changes = await store.changes_since(position, limit=100_000)
            for change in changes:
                assert change.seq > position, "the feed went backwards"
                seen[change.record.oai_identifier] = position = change.seq
            reads += bool(changes)
            if not running:
                break
            await asyncio.sleep(0.002)
        for proc, (_, err) in zip(writers, await waiting, strict=True):
            assert proc.returncode == 0, err.decode(errors="replace")
    finally:
        for proc in writers:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    everything = {c.record.oai_identifier: c.seq for c in await store.changes_since(0, limit=100_000)}
    assert len(everything) == len(WRITERS) * PAGES * SIZE
    assert len(set(everything.values())) == len(everything), "two records share a change number"
    missed = sorted(set(everything) - set(seen), key=everything.__getitem__)
    assert not missed, f"the follower never saw {len(missed)} committed records, first {missed[:3]}"
    assert reads > 1, "the follower should have read while the writers were committing"
    for code in WRITERS:
        pages = [[everything[f"oai:{code}:{p}:{i}"] for i in range(SIZE)] for p in range(PAGES)]
        assert all(max(a) < min(b) for a, b in itertools.pairwise(pages)), f"{code}'s pages out of order"
    by_seq = [oai_id.split(":")[1] for oai_id in sorted(everything, key=everything.__getitem__)]
    switches = sum(a != b for a, b in itertools.pairwise(by_seq))
    assert switches > 1, "the two writers did not commit at the same time"

"""Works in the store: which records cluster, which ids survive merges and splits, curator overrides."""

from __future__ import annotations

import pytest
import pytest_asyncio
from sqlalchemy import update

from schemas.errors import InvalidInput, NotFound, WorkMoved
from schemas.member import MemberCreate
from schemas.record import Identifiers, Record
from store.front import RecordStore
from store.tables import records, works

pytestmark = pytest.mark.asyncio

PBK, HBK, OTHER = "9786049086410", "9786049086427", "9780306406157"


def rec(member: str, n: int, **fields: object) -> Record:
    values: dict[str, object] = {"title": f"Sách số {n}", "year": 2019}
    values.update(fields)
    return Record(member=member, oai_identifier=f"oai:{member.lower()}:{n}", **values)  # type: ignore[arg-type]


def isbn(*values: str) -> Identifiers:
    return Identifiers(isbn=list(values))


@pytest_asyncio.fixture
async def three(store: RecordStore) -> RecordStore:
    for code, name in (("HUS", "ĐH Khoa học Huế"), ("VAST", "Viện Hàn lâm"), ("NLV", "Thư viện Quốc gia")):
        await store.add_member(MemberCreate(code=code, name_vi=name))
    return store


async def put(store: RecordStore, *recs: Record) -> None:
    for r in recs:
        await store.commit_page(r.member, None, [r])


async def work(store: RecordStore, r: Record) -> str | None:
    return await store.work_of(r.id)


async def test_a_record_listing_both_isbns_joins_members_listing_either(three: RecordStore) -> None:
    both, hardback, paperback = (
        rec("HUS", 1, identifiers=isbn(PBK, HBK)),
        rec("VAST", 1, identifiers=isbn(HBK)),
        rec("NLV", 1, identifiers=isbn(PBK)),
    )
    other = rec("NLV", 2, identifiers=isbn(OTHER))
    await put(three, hardback, paperback, other)
    assert await work(three, hardback) != await work(three, paperback), "no shared ISBN yet"
    await put(three, both)
    joined = await work(three, both)
    assert joined == await work(three, hardback) == await work(three, paperback) != await work(three, other)
    state = await three.get_work(joined or "")
    assert [s.id for s in state.records] == [hardback.id, paperback.id, both.id], "oldest first"
    assert state.joined_by[hardback.id] is None
    assert state.joined_by[both.id] == f"isbn:{HBK}"
    assert state.joined_by[paperback.id] == f"isbn:{PBK}"
    assert await three.find_works("isbn", "604-908-641-9") == [joined], "ISBN-10 form finds the work"


async def test_title_author_year_join_records_without_identifiers(three: RecordStore) -> None:
    vi = rec("HUS", 1, title="Thư viện số", authors=["Nguyễn Văn An"], year=2019, publisher="NXB Thế giới")
    folded = rec("VAST", 1, title="Thu vien so", authors=["Nguyen, Van An"], year=2019)
    other_year = rec("NLV", 1, title="Thư viện số", authors=["Nguyễn Văn An"], year=2020)
    other_author = rec("NLV", 2, title="Thư viện số", authors=["Nguyễn Văn Anh"], year=2019)
    other_publisher = rec(
        "NLV", 3, title="Thư viện số", authors=["Nguyễn Văn An"], year=2019, publisher="NXB Trẻ"
    )
    with_isbn = rec(
        "NLV", 4, title="Thư viện số", authors=["Nguyễn Văn An"], year=2019, identifiers=isbn(PBK)
    )
    untitled = [rec("HUS", 5, title=None, year=2019), rec("VAST", 5, title=None, year=2019)]
    await put(three, vi, folded, other_year, other_author, other_publisher, with_isbn, *untitled)

    assert await work(three, vi) == await work(three, folded)
    assert (await three.get_work(await work(three, vi) or "")).joined_by[folded.id] == "title"
    ids = [await work(three, r) for r in (vi, other_year, other_author, with_isbn, *untitled)]
    assert len(set(ids)) == len(ids), "year, author, an identifier or no title keep records apart"
    # a publisher must agree when both name one: NXB Trẻ's record links only to the record naming none
    assert await work(three, other_publisher) == await work(three, vi), "linked through the one naming none"
    await put(three, folded.model_copy(update={"publisher": "NXB Thế giới"}))
    assert await work(three, other_publisher) != await work(three, vi)
    assert set(await three.find_works_by_title("thu vien so")) == {
        await work(three, r) for r in (vi, other_year, other_author, other_publisher, with_isbn)
    }
    assert await three.find_works_by_title("thư viện") == []


async def test_issn_links_journals_only(three: RecordStore) -> None:
    journals = [
        rec(code, 1, type="journal", title=f"Tạp chí {code}", identifiers=Identifiers(issn=["1859-3100"]))
        for code in ("HUS", "VAST")
    ]
    articles = [
        rec(code, 2, type="article", title=f"Bài {code}", identifiers=Identifiers(issn=["1859-3100"]))
        for code in ("HUS", "VAST")
    ]
    await put(three, *journals, *articles)
    assert await work(three, journals[0]) == await work(three, journals[1])
    assert len({await work(three, r) for r in (journals[0], *articles)}) == 3
    assert len(await three.find_works("issn", "18593100")) == 3


async def test_a_merge_keeps_the_oldest_id_and_the_others_redirect(three: RecordStore) -> None:
    first, second, third = (
        rec("HUS", 1, identifiers=isbn(PBK)),
        rec("VAST", 1, identifiers=isbn(HBK)),
        rec("NLV", 1),
    )
    await put(three, first, second, third)
    oldest, younger = await work(three, first), await work(three, second)
    assert oldest and younger and oldest != younger
    before = (await three.get_work(oldest)).seq
    await put(three, rec("NLV", 1, identifiers=isbn(PBK, HBK)))
    assert await work(three, second) == await work(three, third) == oldest
    with pytest.raises(WorkMoved) as moved:
        await three.get_work(younger)
    assert moved.value.new_id == oldest and moved.value.status == 301
    changes = {wid: (seq, alive) for wid, seq, alive in await three.work_changes_since(before)}
    assert changes[oldest][1] is True and changes[younger][1] is False
    assert (await three.get_work(oldest)).seq == changes[oldest][0] > before


async def test_a_change_that_removes_a_link_splits_and_the_larger_part_keeps_the_id(
    three: RecordStore,
) -> None:
    a, b, bridge = (
        rec("HUS", 1, identifiers=isbn(PBK)),
        rec("VAST", 1, identifiers=isbn(PBK)),
        rec("NLV", 1, identifiers=isbn(PBK, HBK)),
    )
    c, d = rec("HUS", 2, identifiers=isbn(HBK)), rec("VAST", 2, identifiers=isbn(HBK))
    await put(three, c, d, a, b, bridge)
    wid = await work(three, c)
    assert {await work(three, r) for r in (a, b, bridge, d)} == {wid}
    await put(three, bridge.model_copy(update={"identifiers": isbn(PBK)}))  # drops the hardback's ISBN
    assert await work(three, a) == await work(three, b) == await work(three, bridge) == wid, (
        "3 records beat 2"
    )
    assert await work(three, c) == await work(three, d) != wid
    # the tombstone of a record leaves its work; a work with no record left is gone
    split_off = await work(three, c)
    seq = max(seq for _w, seq, _alive in await three.work_changes_since(0))
    await put(three, c.model_copy(update={"deleted": True}), d.model_copy(update={"deleted": True}))
    assert await work(three, c) is None
    assert [(w, alive) for w, _seq, alive in await three.work_changes_since(seq)] == [(split_off, False)]
    with pytest.raises(NotFound):
        await three.get_work(split_off or "")
    with pytest.raises(NotFound):
        await three.get_work("w999999")


async def test_curator_split_and_join_survive_reclustering(three: RecordStore) -> None:
    a, b, c = (
        rec("HUS", 1, identifiers=isbn(PBK)),
        rec("VAST", 1, identifiers=isbn(PBK)),
        rec("NLV", 1, identifiers=isbn(PBK)),
    )
    lone = rec("NLV", 2, identifiers=isbn(OTHER))
    await put(three, a, b, c, lone)
    wid = await work(three, a)
    split = await three.split_record(c.id)
    assert (split.kind, split.record_id) == ("split", c.id)
    assert await work(three, a) == await work(three, b) == wid != await work(three, c)
    assert await three.split_record(c.id) == split, "splitting twice is the same decision"
    joined = await three.join_works(wid or "", await work(three, lone) or "")
    assert joined.kind == "join" and await work(three, lone) == wid
    state = await three.get_work(wid or "")
    assert state.joined_by[lone.id] == "curator"
    assert {o.id for o in state.overrides} == {joined.id}

    assert await three.recluster_all() == 0, "nothing moves: the overrides are kept"
    assert await work(three, lone) == wid and await work(three, c) != wid
    await put(three, c.model_copy(update={"title": "Đổi tên"}))
    assert await work(three, c) != wid, "a change of the split record keeps it apart"

    await three.remove_override(split.id)
    assert await work(three, c) == wid
    await three.remove_override(joined.id)
    assert await work(three, lone) != wid
    with pytest.raises(NotFound):
        await three.remove_override(joined.id)
    with pytest.raises(InvalidInput):
        await three.join_works(wid or "", wid or "")


async def test_live_works_are_listed_with_their_records(three: RecordStore) -> None:
    recs = [rec("HUS", 1, identifiers=isbn(PBK)), rec("VAST", 1, identifiers=isbn(PBK)), rec("NLV", 1)]
    await put(three, *recs)
    listed = [
        (wid, [s.id for s in held]) async for batch in three.iter_live_works(batch=1) for wid, held in batch
    ]
    assert listed == [
        (await work(three, recs[0]), [recs[0].id, recs[1].id]),
        (await work(three, recs[2]), [recs[2].id]),
    ]
    held = await three.works_records([listed[1][0], "w404"])
    assert [s.id for s in held[listed[1][0]]] == [recs[2].id] and held["w404"] == []


async def test_a_store_from_before_works_is_clustered_when_opened(database_url: str) -> None:
    store = await RecordStore.open(database_url)
    try:
        await store.add_member(MemberCreate(code="HUS", name_vi="Huế"))
        await store.commit_page("HUS", None, [rec("HUS", n, identifiers=isbn(PBK)) for n in range(3)])
        async with store.engine.begin() as conn:  # as migration 0005 leaves an existing store
            await conn.execute(update(records).values(work_id=None))
            await conn.execute(works.delete())
    finally:
        await store.close()
    again = await RecordStore.open(database_url)
    try:
        found = {await again.work_of(rec("HUS", n).id) for n in range(3)}
        assert len(found) == 1 and None not in found
    finally:
        await again.close()

"""Works from real MARC files imported by two or three members (the shared fixtures)."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
import pytest_asyncio

from harvesters.importer import import_file
from schemas.member import MemberCreate
from store.front import RecordStore
from store.records import StoredRecord

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def members(store: RecordStore) -> RecordStore:
    for code, name in (("HUS", "ĐH Khoa học Huế"), ("VAST", "Viện Hàn lâm"), ("NLV", "Thư viện Quốc gia")):
        await store.add_member(MemberCreate(code=code, name_vi=name))
    return store


async def load(store: RecordStore, fixtures_dir: Path, **files: str) -> dict[str, list[StoredRecord]]:
    """Import ``files`` (member code -> file name); each member's live records."""
    for code, name in files.items():
        await import_file(store, code, fixtures_dir / "marc" / name)
    held: dict[str, list[StoredRecord]] = {code: [] for code in files}
    for code in files:
        async for batch in store.iter_live(member=code):
            held[code].extend(batch)
    return held


async def test_the_same_file_from_two_members_joins_record_for_record(
    members: RecordStore, fixtures_dir: Path
) -> None:
    held = await load(members, fixtures_dir, HUS="pymarc__test.dat", VAST="pymarc__test.dat")
    assert len(held["HUS"]) == len(held["VAST"]) == 10
    works = set()
    for mine in held["HUS"]:
        theirs = next(s for s in held["VAST"] if s.record.oai_identifier == mine.record.oai_identifier)
        work = await members.work_of(mine.id)
        assert work == await members.work_of(theirs.id), mine.record.title
        works.add(work)
        state = await members.get_work(work or "")
        assert [s.id for s in state.records] == [mine.id, theirs.id]
    assert len(works) == 10, "ten books, ten works: no two of them merged"


async def test_distinct_editions_stay_apart(members: RecordStore, fixtures_dir: Path) -> None:
    """Many editions of Pride and Prejudice and Sense and Sensibility, by one author, some in the same
    year from different publishers: only records sharing an ISBN are one work."""
    held = await load(members, fixtures_dir, NLV="marc4j__pride-and-prejudice-with-many-errors.mrc")
    editions = [s for s in held["NLV"] if s.record.identifiers.isbn]
    assert len(editions) > 50
    work = {s.id: await members.work_of(s.id) for s in editions}
    for a, b in combinations(editions, 2):
        if work[a.id] != work[b.id]:
            assert not set(a.record.identifiers.isbn) & set(b.record.identifiers.isbn)
    penguin_1980, fontana_1980 = (
        next(s for s in editions if s.record.identifiers.isbn == [isbn])
        for isbn in ("9780140057744", "9780006159490")
    )
    assert (penguin_1980.record.title, penguin_1980.record.year) == (fontana_1980.record.title, 1980)
    assert work[penguin_1980.id] != work[fontana_1980.id]
    # a record listing two ISBNs and another listing one of them are one edition
    two = next(s for s in editions if s.record.identifiers.isbn == ["9780141439518", "9780141024035"])
    one = next(s for s in editions if s.record.identifiers.isbn == ["9780141439518"])
    assert work[two.id] == work[one.id]
    assert len(set(work.values())) > 40


async def test_records_without_isbn_join_on_title_author_and_year(
    members: RecordStore, fixtures_dir: Path
) -> None:
    """The same three recordings catalogued as MARC21 by one member and as MARCXML by another."""
    held = await load(members, fixtures_dir, HUS="filemarc__music.mrc", VAST="filemarc__music.xml")
    assert all(not s.record.identifiers.isbn for s in held["HUS"] + held["VAST"])
    by_title = {s.record.title: s for s in held["HUS"]}
    assert len(by_title) == 3
    for theirs in held["VAST"]:
        mine = by_title[theirs.record.title]
        work = await members.work_of(mine.id)
        assert work == await members.work_of(theirs.id)
        assert (await members.get_work(work or "")).joined_by[theirs.id] == "title"
    assert len({await members.work_of(s.id) for s in held["HUS"]}) == 3, "different titles, years"

    # the same title and author in another year is another work, and so is another first author
    quartet = next(s for s in held["VAST"] if s.record.title == "The Modern Jazz Quartet")
    moved = await members.work_of(quartet.id)
    await members.commit_page("VAST", None, [quartet.record.model_copy(update={"year": 1978})])
    assert await members.work_of(quartet.id) != moved
    await members.commit_page(
        "VAST", None, [quartet.record.model_copy(update={"authors": ["Jackson, Milt"]})]
    )
    assert await members.work_of(quartet.id) != moved
    await members.commit_page("VAST", None, [quartet.record])
    assert await members.work_of(quartet.id) == moved


async def test_isbn_and_title_links_across_two_catalogues(members: RecordStore, fixtures_dir: Path) -> None:
    """Two files describing the same Perl books, one with ISBNs where the other has them too, and one
    book without an ISBN in either: each of them one work of two records."""
    held = await load(members, fixtures_dir, HUS="pymarc__test.dat", NLV="filemarc__camel.mrc")
    joined = 0
    for mine in held["HUS"]:
        twins = [
            s
            for s in held["NLV"]
            if s.record.title == mine.record.title
            and s.record.identifiers.isbn == mine.record.identifiers.isbn
        ]
        if twins:
            joined += 1
            assert await members.work_of(mine.id) == await members.work_of(twins[0].id)
    assert joined == 10
    perl = [
        s for s in held["HUS"] + held["NLV"] if s.record.title == "Perl" and not s.record.identifiers.isbn
    ]
    assert len(perl) == 2 and len({await members.work_of(s.id) for s in perl}) == 1

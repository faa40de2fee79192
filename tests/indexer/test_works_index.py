"""The index holds works: one hit per work with every holder, kept in step as records and curators
change the works. Runs on every backend (the embedded index and a real search node)."""

from __future__ import annotations

import warnings

import pytest

from app.holdings import hit_holdings
from indexer.documents import to_document
from indexer.pipeline import Indexer
from schemas.member import MemberCreate
from schemas.record import Identifiers, Record
from schemas.search import IndexDocument, SearchFilters, SearchRequest, SearchResponse
from search.backend import SearchBackend
from search.service import SearchService
from store.front import RecordStore

pytestmark = pytest.mark.asyncio

HOLDERS = ("HUE", "TVU", "VNUA", "NASATI", "CTU")
ISBN13 = "9786049086410"


def _book(member: str, n: int = 1, **fields: object) -> Record:
    values: dict[str, object] = {
        "title": "Thư viện số: lý thuyết và thực tiễn",
        "authors": ["Nguyễn Văn An"],
        "year": 2019,
        "identifiers": Identifiers(isbn=[ISBN13]),
        **fields,
    }
    return Record(member=member, oai_identifier=f"oai:{member.lower()}:{n}", **values)  # type: ignore[arg-type]


async def _members(store: RecordStore, codes: tuple[str, ...]) -> None:
    for code in codes:
        await store.add_member(
            MemberCreate(
                code=code,
                name_vi=f"Thư viện {code}",
                opac_url_template=f"http://opac.{code.lower()}.example.vn/record/{{local_id}}",
            )
        )


async def _search(service: SearchService, q: str = "", member: str | None = None) -> SearchResponse:
    filters = SearchFilters(member=[member] if member else [])
    return await service.search(SearchRequest(q=q, size=50, filters=filters, facets=["member"]))


async def _seeded(store: RecordStore, backend: SearchBackend) -> tuple[Indexer, SearchService]:
    await _members(store, HOLDERS)
    for code in HOLDERS[:4]:
        await store.commit_page(code, None, [_book(code)])
    for i in range(3):  # three other works of one member
        other = _book("HUE", 10 + i, title=f"Khoa học dữ liệu, tập {i}", identifiers=Identifiers())
        await store.commit_page("HUE", None, [other])
    indexer = Indexer(store, backend)
    await indexer.sync()
    return indexer, SearchService(backend, holdings=hit_holdings(store))


async def test_a_book_held_by_several_members_is_one_hit_with_its_holdings(store, backend) -> None:
    indexer, service = await _seeded(store, backend)
    found = await _search(service, "thu vien so")
    assert found.total == 1
    [hit] = found.hits
    assert hit.holdings_count == 4 and hit.isbn == [ISBN13]
    assert [h.code for h in hit.holdings] == sorted(HOLDERS[:4])
    hue = next(h for h in hit.holdings if h.code == "HUE")
    assert hue.name_vi == "Thư viện HUE" and hue.records[0].opac_url == "http://opac.hue.example.vn/record/1"
    assert hit.work_id == await store.work_of(_book("HUE").id)

    # a member filter gives the works it holds, that member first; the facet counts works
    tvu = await _search(service, "", member="TVU")
    assert [h.work_id for h in tvu.hits] == [hit.work_id] and tvu.hits[0].holdings[0].code == "TVU"
    everything = await _search(service)
    assert everything.total == 4
    assert {f.value: f.count for f in everything.facets["member"]} == {
        "HUE": 4,
        "TVU": 1,
        "VNUA": 1,
        "NASATI": 1,
    }

    # a harvested copy of the fifth member updates the work, through ``sync``
    await store.commit_page("CTU", None, [_book("CTU")])
    assert await indexer.sync() == 1
    [again] = (await _search(service, "thu vien so")).hits
    assert again.work_id == hit.work_id and again.holdings_count == 5
    assert (await _search(service, "thu vien so", member="CTU")).hits[0].holdings[0].code == "CTU"

    # a record leaving the work (its ISBN corrected away) makes the work lose a holder
    await store.commit_page("CTU", None, [_book("CTU", identifiers=Identifiers(isbn=["9780306406157"]))])
    await indexer.sync()
    works = (await _search(service, "thu vien so")).hits
    assert sorted(h.holdings_count for h in works) == [1, 4]


async def test_a_curators_split_and_join_reindex_the_works_they_touch(store, backend) -> None:
    indexer, service = await _seeded(store, backend)
    [work] = (await _search(service, "thu vien so")).hits
    vnua = _book("VNUA").id

    await store.split_record(vnua)
    assert await indexer.sync() >= 2  # the work that lost a record, and the record's new work
    works = {h.work_id: h for h in (await _search(service, "thu vien so")).hits}
    assert len(works) == 2 and works[work.work_id].holdings_count == 3
    apart = next(wid for wid in works if wid != work.work_id)
    assert [h.code for h in works[apart].holdings] == ["VNUA"]

    newer = await store.work_of(_book("HUE", 10).id)
    assert newer is not None
    await store.join_works(work.work_id, newer)  # a curator's (odd) join: the older id survives
    await indexer.sync()
    assert await backend.get(newer) is None, "the work merged away left the index"
    joined = {h.work_id: h for h in (await _search(service, "")).hits}
    assert work.work_id in joined and newer not in joined
    assert (await _search(service, "khoa hoc du lieu tap 0")).hits[0].work_id == work.work_id


async def test_reindex_rebuilds_one_document_per_work(store, backend) -> None:
    indexer, service = await _seeded(store, backend)
    report = await indexer.reindex()
    assert (report.indexed, report.records) == (4, 7)
    assert await backend.count() == 4
    assert (await _search(service, "thu vien so")).hits[0].holdings_count == 4


async def test_an_index_of_records_from_before_works_is_rebuilt_once(store, backend) -> None:
    await _members(store, HOLDERS[:2])
    for code in HOLDERS[:2]:
        await store.commit_page(code, None, [_book(code)])
    # what an index built before works held: one document per record, ``member`` a single code
    stale = to_document(_book("HUE").id, 1, _book("HUE")).model_dump()
    old = IndexDocument.model_construct(**{**stale, "member": "HUE", "records": []})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic warns while serialising the wrong type, as meant
        await backend.bulk([old])
    await backend.refresh()
    await backend.set_position(await store.max_seq())
    before = await backend.live_index()

    indexer = Indexer(store, backend)
    await indexer.sync()
    assert await backend.live_index() != before, "rebuilt into a new index"
    service = SearchService(backend, holdings=hit_holdings(store))
    [hit] = (await _search(service, "thu vien so")).hits
    assert hit.holdings_count == 2 and await backend.count() == 1
    rebuilt = await backend.live_index()
    await indexer.sync()
    assert await backend.live_index() == rebuilt, "once"

"""What differs between SQLite and PostgreSQL must not show: times, JSON, text and sizes are the same.

Each test runs on both databases (``database_url`` in ``tests/pg/fixtures.py``); the PostgreSQL test
server's session time zone is Asia/Ho_Chi_Minh, not UTC, so a time that loses its zone shows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas.member import MemberCreate
from schemas.record import Identifiers, QuarantinedItem, Record
from store.front import RecordStore

pytestmark = pytest.mark.asyncio

HANOI = timezone(timedelta(hours=7))


@pytest.fixture
def hanoi_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is UTC+7, as on a server in Vietnam (restored afterwards)."""
    monkeypatch.setenv("TZ", "Asia/Ho_Chi_Minh")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _member(store: RecordStore, code: str = "VAST", **fields: object) -> None:
    await store.add_member(MemberCreate(code=code, name_vi="Viện Hàn lâm KH&CN Việt Nam", **fields))


async def test_a_time_keeps_its_instant_whatever_its_zone(store: RecordStore, hanoi_local_time: None) -> None:
    """16:30 in Hanoi is 09:30 UTC; a time without a zone is UTC (as every time in Lienhop), not local."""
    await _member(store)
    await store.set_harvest_state("VAST", None, last_high_water=datetime(2024, 5, 10, 16, 30, tzinfo=HANOI))
    _, high_water = await store.get_harvest_state("VAST")
    assert high_water == datetime(2024, 5, 10, 9, 30, tzinfo=UTC)
    assert high_water is not None and high_water.utcoffset() == timedelta(0)

    await store.set_harvest_state("VAST", None, last_high_water=datetime(2024, 5, 10, 9, 30))
    _, high_water = await store.get_harvest_state("VAST")
    assert high_water == datetime(2024, 5, 10, 9, 30, tzinfo=UTC)


async def test_run_times_and_member_dates_read_back_in_utc(store: RecordStore) -> None:
    await _member(store, observer_since="2023-01-15", status="observer")
    member = await store.get_member("VAST")
    assert member.observer_since is not None and member.observer_since.isoformat() == "2023-01-15"
    assert member.created is not None and member.created.utcoffset() == timedelta(0)
    before = datetime.now(UTC)
    run = await store.start_run("VAST", "harvest", {"full": "1"})
    report = await store.finish_run(run.id or 0, ok=True)
    assert report.started == run.started and report.params == {"full": "1"}
    assert report.finished is not None and before <= report.finished <= datetime.now(UTC)


async def test_json_fields_keep_their_values(store: RecordStore) -> None:
    """Sets, the Identify answer and the checkpoint come back as they were saved (None stays None)."""
    await _member(store, sets=["thesis", "bài báo"])
    assert (await store.get_member("VAST")).sets == ["thesis", "bài báo"]
    info = {"granularity": "YYYY-MM-DD", "earliestDatestamp": "2001-01-01", "nested": {"n": [1, 2.5, None]}}
    await store.set_repository_info("VAST", info)
    assert await store.repository_info("VAST") == info
    checkpoint = {"token": "a\u00a0b/ä", "set_index": 0, "totals": {"thesis": 12}, "high_water": None}
    await store.set_harvest_state("VAST", checkpoint)
    assert (await store.get_harvest_state("VAST"))[0] == checkpoint
    await store.set_harvest_state("VAST", None)
    assert (await store.get_harvest_state("VAST"))[0] is None


async def test_record_text_round_trips_exactly(store: RecordStore) -> None:
    """Vietnamese in both Unicode forms, astral characters and control characters survive the store."""
    await _member(store)
    rec = Record(
        member="VAST",
        oai_identifier="oai:vast:ư/1",
        title="Thư viện số \U0001d400 tab\tend",
        authors=["Nguyễn Văn An", "Nguye\u0302\u0303n"],  # decomposed diacritics are kept as given
        datestamp=datetime(2024, 5, 10, 9, 30, 15, 123456, tzinfo=UTC),
        identifiers=Identifiers(isbn=["9786040000001"], local_id="L-1"),
        raw="<dc>Thư viện số</dc>",
    )
    await store.commit_page("VAST", None, [rec])
    [stored] = await store.get_records([rec.id])
    assert stored.record == rec


async def test_nul_characters_do_not_break_a_page(store: RecordStore) -> None:
    """PostgreSQL text cannot hold U+0000; an unreadable page that contains it is still quarantined."""
    await _member(store)
    bad = QuarantinedItem(
        member="VAST",
        reason="not well-formed: char\x00 at 1:7",
        oai_identifier="oai:vast:\x001",
        raw="<x>\x00</x>",
    )
    counts = await store.commit_page("VAST", None, [], [bad])
    assert counts.quarantined == 1
    [item] = await store.list_quarantine("VAST")
    assert item.raw == "<x>\ufffd</x>" and item.reason == "not well-formed: char\ufffd at 1:7"
    assert item.oai_identifier == "oai:vast:\ufffd1"


async def test_long_free_text_is_stored_whole(store: RecordStore) -> None:
    """Names, contacts, URLs and identifiers have no length limit a user could hit on one database only."""
    name = "Thư viện " * 99 + "Thư viện"  # 899 characters
    url = "https://repo.example.vn/oai?" + "x" * 1200
    await _member(store, name_en=name, contact=name, oai_url=url, opac_url_template=url)
    member = await store.get_member("VAST")
    assert (member.name_en, member.contact, member.oai_url) == (name, name, url)
    long_id = "oai:repo.example.vn:" + "9" * 1500
    rec = Record(
        member="VAST", oai_identifier=long_id, title="Dài", identifiers=Identifiers(local_id="L" * 800)
    )
    counts = await store.commit_page(
        "VAST", None, [rec], [QuarantinedItem(member="VAST", reason="bad", oai_identifier=long_id + "x")]
    )
    assert (counts.added, counts.quarantined) == (1, 1)
    [stored] = await store.get_records([rec.id])
    assert stored.record.oai_identifier == long_id and stored.record.identifiers.local_id == "L" * 800


async def test_big_page_with_many_identifiers(store: RecordStore) -> None:
    """A page whose identifiers need more bound values than one PostgreSQL statement takes (32,767) is
    written whole, then rewritten: 1,200 records x 10 identifiers = 12,000 rows x 3 values."""
    await _member(store)

    def page(edition: str) -> list[Record]:
        return [
            Record(
                member="VAST",
                oai_identifier=f"oai:vast:{i}",
                title=f"Tập {i} {edition}",
                identifiers=Identifiers(
                    isbn=[f"978604{i:04d}{k:03d}" for k in range(3)],
                    issn=["0866-7080"],
                    doi=[f"10.1234/vast.{i}.{k}{edition}" for k in range(3)],
                    handle=[f"11/{i}/{k}" for k in range(3)],
                ),
            )
            for i in range(1200)
        ]

    assert (await store.commit_page("VAST", None, page("a"))).added == 1200
    assert (await store.commit_page("VAST", None, page("b"))).updated == 1200
    assert await store.find_by_identifier("doi", "10.1234/vast.1199.2a") == [], "old identifiers go"
    holders = await store.find_by_identifier("doi", "10.1234/vast.1199.2b")
    assert [h.record.title for h in holders] == ["Tập 1199 b"]
    assert len(await store.find_by_identifier("issn", "0866-7080")) == 1200

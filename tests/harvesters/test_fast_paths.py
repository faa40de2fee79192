"""The harvest's fast paths keep what the slower, general code did.

SQLite page writes through the driver against the SQLAlchemy Core statements (which PostgreSQL uses),
stores written with the old content hash against the new one, and the shortcuts in text and XML
normalisation against what they stand in for.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from harvesters.normalise import nfc
from harvesters.oai.errors import InvalidDatestamp
from harvesters.oai.protocol import parse_datestamp
from harvesters.xml import check_safe, clean_xml_text
from schemas.errors import UnsafeXML
from schemas.member import MemberCreate
from schemas.record import Identifiers, QuarantinedItem, Record
from schemas.settings import Settings
from store.front import RecordStore
from store.records import PageCounts
from store.rows import content_hash
from store.tables import records as records_table

from .support import snapshot

START = datetime(2024, 5, 10, 9, 30, tzinfo=UTC)


def _record(i: int, title: str | None = None, deleted: bool = False, **ids: list[str]) -> Record:
    return Record(
        member="HUST",
        oai_identifier=f"oai:hust:{i}",
        datestamp=START + timedelta(minutes=i),
        deleted=deleted,
        title=None if deleted else (title or f"Giáo trình Cơ học lượng tử, tập {i}"),
        authors=[] if deleted else ["Nguyễn Văn An"],
        identifiers=Identifiers(**ids),
        raw="" if deleted else f"<dc><title>tập {i}</title></dc>",
    )


PAGES: list[tuple[list[Record], list[QuarantinedItem]]] = [
    (
        [
            _record(1, isbn=["9780306406157"], handle=["123456789/1"]),
            _record(2, doi=["10.1000/xyz"], issn=["0378-5955"]),
            _record(3),
            _record(4, deleted=True),
        ],
        [QuarantinedItem(member="HUST", reason="RecordParseError: no title", oai_identifier="oai:hust:5")],
    ),
    (
        [
            _record(1, title="Giáo trình Cơ học lượng tử (bản sửa)", isbn=["9780306406157"]),  # updated
            _record(2, doi=["10.1000/xyz"], issn=["0378-5955"]),  # unchanged
            _record(3, deleted=True),  # deleted
            _record(5, isbn=["9786040002389"]),  # was quarantined, now reads
            _record(6, handle=["123456789/6"]),  # new
        ],
        [],
    ),
]


async def _write_pages(tmp_path: Path, name: str, driver_writes: bool) -> tuple[list[PageCounts], object]:
    settings = Settings(home=tmp_path / name)
    store = await RecordStore.open(settings.db_url)
    store._driver_writes = driver_writes  # the Core statements are PostgreSQL's path; here on SQLite
    try:
        await store.add_member(MemberCreate(code="HUST", name_vi="Đại học Bách khoa Hà Nội"))
        run = await store.start_run("HUST", "harvest")
        counts = [
            await store.commit_page("HUST", run.id, page, bad, state={"page": i})
            for i, (page, bad) in enumerate(PAGES)
        ]
        by_isbn = []
        for isbn in ("9780306406157", "9786040002389"):
            by_isbn += [h.record.oai_identifier for h in await store.find_by_identifier("isbn", isbn)]
        by_handle = [h.record.oai_identifier for h in await store.find_by_identifier("handle", "123456789/1")]
        changes = [(c.seq, c.record.oai_identifier, c.deleted) for c in await store.changes_since(0)]
        quarantined = [q.oai_identifier for q in await store.list_quarantine("HUST")]
        state, _ = await store.get_harvest_state("HUST")
        async with store.engine.connect() as conn:
            # every column as SQLite holds it (text, not read back through the column types), but the
            # times of writing
            raw = await conn.exec_driver_sql("SELECT * FROM records ORDER BY pk")
            rows = [{k: v for k, v in r._mapping.items() if k not in {"first_seen", "updated"}} for r in raw]
            ids = sorted(tuple(r) for r in await conn.exec_driver_sql("SELECT * FROM record_identifiers"))
        return counts, (await snapshot(store), by_isbn, by_handle, changes, quarantined, state, rows, ids)
    finally:
        await store.close()


@pytest.mark.asyncio
async def test_driver_writes_on_sqlite_store_what_the_core_statements_store(tmp_path: Path) -> None:
    core_counts, core = await _write_pages(tmp_path, "core", driver_writes=False)
    driver_counts, driver = await _write_pages(tmp_path, "driver", driver_writes=True)
    assert driver_counts == core_counts
    assert driver == core
    # and what they store is right: an update, an unchanged record, a deletion, a record out of quarantine
    added_updated_deleted_unchanged = [(c.added, c.updated, c.deleted, c.unchanged) for c in driver_counts]
    assert added_updated_deleted_unchanged == [(3, 0, 1, 0), (2, 1, 1, 1)]
    _, by_isbn, by_handle, changes, quarantined, *_ = driver  # type: ignore[misc]
    assert by_isbn == ["oai:hust:1", "oai:hust:5"]
    assert by_handle == []  # record 1 no longer gives that handle
    assert quarantined == []
    last_changed = [oai_id for _, oai_id, _ in changes][-4:]
    assert last_changed == ["oai:hust:1", "oai:hust:3", "oai:hust:5", "oai:hust:6"]


def _legacy_content_hash(record: Record) -> str:
    """The content hash as stores wrote it before it was computed from pydantic's JSON."""
    payload = record.model_dump(mode="json", exclude={"datestamp"})
    return hashlib.blake2b(json.dumps(payload, sort_keys=True).encode(), digest_size=16).hexdigest()


@pytest.mark.asyncio
async def test_records_stored_with_the_old_hash_are_not_rewritten(store: RecordStore) -> None:
    """Upgrading must not re-sequence (and so re-index) every unchanged record at its next harvest."""
    await store.add_member(MemberCreate(code="HUST", name_vi="Đại học Bách khoa Hà Nội"))
    page = [_record(i, isbn=["9780306406157"]) for i in range(1, 4)]
    await store.commit_page("HUST", None, page)
    async with store.engine.begin() as conn:  # as an older version left them
        for rec in page:
            await conn.execute(
                update(records_table)
                .where(records_table.c.oai_identifier == rec.oai_identifier)
                .values(content_hash=_legacy_content_hash(rec))
            )
    before = [(c.seq, c.record.oai_identifier) for c in await store.changes_since(0)]

    changed = [*page[:2], _record(3, title="Bản đã sửa", isbn=["9780306406157"])]
    counts = await store.commit_page("HUST", None, changed)

    assert (counts.unchanged, counts.updated) == (2, 1)
    after = [(c.seq, c.record.oai_identifier) for c in await store.changes_since(0)]
    assert after[:2] == before[:2]
    assert after[2][1] == "oai:hust:3" and after[2][0] > before[2][0]
    assert len(content_hash(page[0])) == 40 != len(_legacy_content_hash(page[0]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thư viện  Quốc gia ", "Thư viện Quốc gia"),
        ("\u00a0Lịch sử\u00a0Việt Nam\u3000", "Lịch sử Việt Nam"),  # no-break and ideographic spaces
        ("Khoa\u2028học\u2029máy tính", "Khoa học máy tính"),  # line and paragraph separators
        ("Tin\u00adhọc\u200b ứng dụng\ufeff", "Tinhọc ứng dụng"),  # soft hyphen, zero-width space, BOM
        ("Vật lý\x1fhạt nhân\x85", "Vật lý hạt nhân"),  # C0 and C1 controls
        (unicodedata.normalize("NFD", "Cơ học lượng tử"), "Cơ học lượng tử"),
        ("co\u200dop", "co\u200dop"),  # ZWJ is kept (some scripts need it)
        (" \t\n", None),
    ],
)
def test_nfc_cleans_what_catalogues_send(text: str, expected: str | None) -> None:
    assert nfc(text) == expected


def test_clean_xml_text_still_removes_what_xml_forbids() -> None:
    assert clean_xml_text("Hà Nội\x0b &#27;1998&#x1B;") == "Hà Nội 1998"
    assert clean_xml_text("Hà Nội &amp; Huế\n\t1998") == "Hà Nội &amp; Huế\n\t1998"


@pytest.mark.parametrize("doctype", [b"<!DOCTYPE", b"<!doctype", b"<!DocType"])
def test_a_dtd_with_entities_is_refused_in_any_case(doctype: bytes) -> None:
    body = b'<?xml version="1.0"?><!-- <a> -->' + doctype + b' r [<!ENTITY x "y">]><r>&x;</r>'
    with pytest.raises(UnsafeXML):
        check_safe(body)


def test_datestamps_read_as_utc() -> None:
    assert parse_datestamp("2024-05-10T09:30:00Z") == START
    assert parse_datestamp(" 2024-05-10T16:30:00+07:00 ") == START
    assert parse_datestamp("2024-05-10") == datetime(2024, 5, 10, tzinfo=UTC)
    for bad in ("2024-13-10T09:30:00Z", "2024-05-10T09+07:00Z"):
        with pytest.raises(InvalidDatestamp, match="invalid datestamp"):
            parse_datestamp(bad)

"""Importing real MARC21 / MARCXML files into the store: batches, quarantine, idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio

from harvesters.importer import detect_format, import_file
from schemas.errors import MarcImportError, NotFound
from schemas.member import MemberCreate
from store.front import RecordStore

MEMBER = "HUS"


class RecordingProgress:
    """A ProgressSink that remembers what it was told."""

    def __init__(self) -> None:
        self.begun: list[tuple[str, int | None]] = []
        self.advanced = 0
        self.ended: list[tuple[str, bool, str]] = []

    def begin(self, task: str, total: int | None = None) -> None:
        self.begun.append((task, total))

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        self.advanced += n

    def end(self, task: str, ok: bool = True, message: str = "") -> None:
        self.ended.append((task, ok, message))


@pytest_asyncio.fixture
async def member_store(store: RecordStore) -> RecordStore:
    await store.add_member(MemberCreate(code=MEMBER, name_vi="Trường Đại học Khoa học Huế"))
    return store


def marc(fixtures_dir: Path, name: str) -> Path:
    return fixtures_dir / "marc" / name


async def titles(store: RecordStore) -> list[str]:
    found: list[str] = []
    async for page in store.iter_live(member=MEMBER):
        found.extend(stored.record.title or "" for stored in page)
    return sorted(found)


@pytest.mark.asyncio
async def test_import_perl_books_then_reimport_changes_nothing(
    member_store: RecordStore, fixtures_dir: Path
) -> None:
    path = marc(fixtures_dir, "pymarc__test.dat")
    progress = RecordingProgress()
    report = await import_file(member_store, MEMBER, path, progress=progress)
    assert (report.ok, report.kind, report.added, report.quarantined) == (True, "import", 10, 0)
    assert report.params == {"file": "pymarc__test.dat"}
    assert progress.begun == [("pymarc__test.dat", path.stat().st_size)]
    assert progress.advanced == path.stat().st_size
    assert progress.ended[0][1] is True and "10 added" in progress.ended[0][2]
    assert "ActivePerl with ASP and ADO" in await titles(member_store)

    again = await import_file(member_store, MEMBER, path)
    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 10)
    assert (await member_store.record_counts(MEMBER))[MEMBER].active == 10


@pytest.mark.asyncio
async def test_batches_commit_and_call_on_commit(member_store: RecordStore, fixtures_dir: Path) -> None:
    commits = 0

    async def on_commit() -> None:
        nonlocal commits
        commits += 1

    report = await import_file(
        member_store,
        MEMBER,
        marc(fixtures_dir, "traject__stanford_test_data.utf8.mrc"),
        on_commit=on_commit,
        batch=7,
    )
    assert report.added == 30
    assert report.pages == commits == 5  # 7 + 7 + 7 + 7 + 2


@pytest.mark.asyncio
async def test_bad_records_are_quarantined_with_offsets(
    member_store: RecordStore, fixtures_dir: Path
) -> None:
    report = await import_file(member_store, MEMBER, marc(fixtures_dir, "pymarc__bad_records.mrc"))
    # the 2 good records of the file are identical and have no 001: one record in the store
    assert (report.added, report.quarantined) == (1, 6)
    assert await titles(member_store) == ["The pragmatic programmer"]
    items = await member_store.list_quarantine(MEMBER)
    assert sorted(q.offset or 0 for q in items) == [127, 254, 381, 509, 637, 764]
    reasons = {q.offset: q.reason for q in items}
    assert "broken leader" in reasons[127] and "byte 127" in reasons[127]
    assert "broken directory" in reasons[381]
    # the content-derived id is stable: importing again changes nothing
    again = await import_file(member_store, MEMBER, marc(fixtures_dir, "pymarc__bad_records.mrc"))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    assert (await member_store.record_counts(MEMBER))[MEMBER].quarantined == 6


@pytest.mark.asyncio
async def test_truncated_file_keeps_the_records_before(
    member_store: RecordStore, fixtures_dir: Path, tmp_path: Path
) -> None:
    data = marc(fixtures_dir, "pymarc__test.dat").read_bytes()
    last = data.rindex(b"\x1d", 0, len(data) - 1) + 1  # start of the 10th record
    cut = tmp_path / "cut.mrc"
    cut.write_bytes(data[: last + 200])
    report = await import_file(member_store, MEMBER, cut)
    assert (report.added, report.quarantined) == (9, 1)
    (item,) = await member_store.list_quarantine(MEMBER)
    assert item.offset == last
    assert "truncated" in item.reason and "200" in item.reason


@pytest.mark.asyncio
async def test_corrupt_record_in_the_middle(
    member_store: RecordStore, fixtures_dir: Path, tmp_path: Path
) -> None:
    data = bytearray(marc(fixtures_dir, "pymarc__test.dat").read_bytes())
    starts = [0] + [i + 1 for i, b in enumerate(data[:-1]) if b == 0x1D]
    fifth = starts[4]
    data[fifth + 12 : fifth + 17] = b"9999x"  # base address of record 5 destroyed
    bad = tmp_path / "bad.mrc"
    bad.write_bytes(bytes(data))
    report = await import_file(member_store, MEMBER, bad)
    assert (report.added, report.quarantined) == (9, 1)
    (item,) = await member_store.list_quarantine(MEMBER)
    assert item.offset == fifth


@pytest.mark.asyncio
async def test_pride_and_prejudice_with_many_errors(member_store: RecordStore, fixtures_dir: Path) -> None:
    path = marc(fixtures_dir, "marc4j__pride-and-prejudice-with-many-errors.mrc")
    report = await import_file(member_store, MEMBER, path)
    assert report.ok and report.added > 300 and report.quarantined > 0
    items = await member_store.list_quarantine(MEMBER, limit=500)
    assert all(q.offset is not None and q.offset < path.stat().st_size for q in items)
    assert any("UNIMARC" in q.reason for q in items)


@pytest.mark.asyncio
async def test_marcxml_second_record_bad(member_store: RecordStore, fixtures_dir: Path) -> None:
    report = await import_file(
        member_store, MEMBER, marc(fixtures_dir, "rubymarc__three-records-second-bad.xml")
    )
    # records 1 and 3 are the same record (same 001, same content): one stored; record 2 quarantined
    assert (report.ok, report.added, report.quarantined) == (True, 1, 1)
    (item,) = await member_store.list_quarantine(MEMBER)
    assert "record 2" in item.reason and "subfield" in item.reason
    assert item.oai_identifier == "marc:DLC:afc99990058366"
    assert await titles(member_store) == ["The Texas ranger"]


@pytest.mark.asyncio
async def test_marcxml_collection(member_store: RecordStore, fixtures_dir: Path) -> None:
    report = await import_file(member_store, MEMBER, marc(fixtures_dir, "bf2__loc_general_99.xml"), batch=40)
    assert (report.added, report.quarantined, report.pages) == (99, 0, 3)
    again = await import_file(member_store, MEMBER, marc(fixtures_dir, "bf2__loc_general_99.xml"))
    assert again.unchanged == 99 and again.added == again.updated == 0


@pytest.mark.asyncio
async def test_xml_cut_in_half_imports_the_complete_records(
    member_store: RecordStore, fixtures_dir: Path, tmp_path: Path
) -> None:
    data = marc(fixtures_dir, "bf2__loc_general_99.xml").read_bytes()
    half = tmp_path / "half.xml"
    half.write_bytes(data[: len(data) // 2])
    report = await import_file(member_store, MEMBER, half)
    assert 30 < report.added < 70
    (item,) = await member_store.list_quarantine(MEMBER)
    assert "not well-formed" in item.reason and f"after {report.added} records" in item.reason


@pytest.mark.asyncio
async def test_unimarc_file_is_quarantined(member_store: RecordStore, fixtures_dir: Path) -> None:
    report = await import_file(member_store, MEMBER, marc(fixtures_dir, "pymarc__testunimarc.dat"))
    assert (report.ok, report.added, report.quarantined) == (True, 0, 1)
    (item,) = await member_store.list_quarantine(MEMBER)
    assert "UNIMARC" in item.reason and item.offset == 0


@pytest.mark.asyncio
async def test_utf8_flag_lie_gives_same_record_as_flagged_file(
    member_store: RecordStore, fixtures_dir: Path
) -> None:
    first = await import_file(member_store, MEMBER, marc(fixtures_dir, "pymarc__utf8_with_leader_flag.dat"))
    second = await import_file(
        member_store, MEMBER, marc(fixtures_dir, "pymarc__utf8_without_leader_flag.dat")
    )
    assert first.added == 1
    assert (second.added, second.updated, second.unchanged) == (0, 0, 1)


@pytest.mark.asyncio
async def test_unreadable_files_raise_without_a_run(
    member_store: RecordStore, fixtures_dir: Path, tmp_path: Path
) -> None:
    pdf = tmp_path / "catalogue.mrc"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3 garbage")
    with pytest.raises(MarcImportError, match="not a MARC21"):
        await import_file(member_store, MEMBER, pdf)
    with pytest.raises(MarcImportError, match="MARCMaker"):
        await import_file(member_store, MEMBER, marc(fixtures_dir, "marc4j__brkrtest.mrk8"))
    with pytest.raises(MarcImportError, match=r"cannot read missing\.mrc"):
        await import_file(member_store, MEMBER, tmp_path / "missing.mrc")
    empty = tmp_path / "empty.mrc"
    empty.write_bytes(b"")
    with pytest.raises(MarcImportError, match="empty"):
        await import_file(member_store, MEMBER, empty)
    assert await member_store.list_runs(MEMBER) == []


@pytest.mark.asyncio
async def test_xml_with_entities_is_refused(member_store: RecordStore, tmp_path: Path) -> None:
    evil = tmp_path / "evil.xml"
    evil.write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<collection xmlns="http://www.loc.gov/MARC21/slim"><record><datafield tag="245" ind1="0" ind2="0">'
        b'<subfield code="a">&x;</subfield></datafield></record></collection>'
    )
    with pytest.raises(MarcImportError, match="DTD"):
        await import_file(member_store, MEMBER, evil)


@pytest.mark.asyncio
async def test_xml_without_marc_records_fails_the_run(member_store: RecordStore, tmp_path: Path) -> None:
    other = tmp_path / "dc.xml"
    other.write_bytes(b"<dc><title>Not MARC</title></dc>")
    with pytest.raises(MarcImportError, match="no MARCXML records"):
        await import_file(member_store, MEMBER, other)
    (run,) = await member_store.list_runs(MEMBER)
    assert run.ok is False and "no MARCXML records" in (run.error or "")


@pytest.mark.asyncio
async def test_unknown_member(member_store: RecordStore, fixtures_dir: Path) -> None:
    with pytest.raises(NotFound):
        await import_file(member_store, "NOPE", marc(fixtures_dir, "pymarc__test.dat"))


@pytest.mark.parametrize(
    ("head", "kind"),
    [(b"00755cam  22002414a 4500", "iso2709"), (b"\xef\xbb\xbf\n  <?xml version='1.0'?>", "marcxml")],
)
def test_detect_format_by_content(head: bytes, kind: str) -> None:
    assert detect_format(head) == kind

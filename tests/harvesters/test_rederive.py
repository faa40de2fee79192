"""Re-deriving stored records from their kept metadata: nothing changes unless the mapping did."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.demo.oai_provider import make_app
from harvesters.importer import import_file
from harvesters.rederive import rederive_member, rederive_record
from harvesters.runner import harvest_members
from schemas.errors import MarcImportError
from schemas.member import MemberCreate
from schemas.record import Record
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from tests.servers.faulty import FaultyProvider, vietnamese_records

from .support import add_member, stored
from .test_faults import START


@pytest.mark.asyncio
async def test_harvested_oai_dc_maps_again_to_the_same_records(
    store: RecordStore, settings: Settings
) -> None:
    app = FaultyProvider(records=vietnamese_records(25, START))
    with serve_in_thread(app) as url:
        await add_member(store, "VAST", url + "/oai")
        [harvest] = await harvest_members(store, settings, ["VAST"])
    before = await stored(store, "VAST")
    report = await rederive_member(store, "VAST")
    assert harvest.added == 25
    assert report.ok and report.kind == "rederive" and (report.updated, report.unchanged) == (0, 25)
    assert await stored(store, "VAST") == before


@pytest.mark.asyncio
async def test_harvested_marcxml_maps_again_to_the_same_records(
    store: RecordStore, settings: Settings
) -> None:
    with serve_in_thread(make_app(count=40)) as url:
        await add_member(store, "VAST", f"{url}/demo/oai/VAST", metadata_prefix="marcxml")
        [harvest] = await harvest_members(store, settings, ["VAST"])
    report = await rederive_member(store, "VAST")
    assert harvest.ok and harvest.added > 30
    assert report.ok and (report.updated, report.unchanged) == (0, harvest.added)


@pytest.mark.asyncio
async def test_every_imported_fixture_file_maps_again_unchanged(
    store: RecordStore, fixtures_dir: Path
) -> None:
    """The shared MARC files (MARC-8, 880 scripts, broken leaders...): stored raw MARCXML maps back to
    exactly what the import stored, so a re-derivation after an upgrade rewrites only real changes."""
    await store.add_member(MemberCreate(code="MARC", name_vi="Nhập tệp"))
    imported = 0
    for path in sorted((fixtures_dir / "marc").iterdir()):
        if path.suffix not in {".mrc", ".dat", ".xml", ".marc"}:
            continue
        try:
            imported += (await import_file(store, "MARC", path)).added
        except MarcImportError:
            continue  # files that are not MARC at all are refused whole; nothing stored
    before = await stored(store, "MARC")
    report = await rederive_member(store, "MARC")
    assert imported > 100 and len(before) == imported
    assert report.ok, report.error
    assert (report.updated, report.unchanged) == (0, imported)
    assert await stored(store, "MARC") == before


@pytest.mark.asyncio
async def test_a_better_mapping_reaches_stored_records(store: RecordStore, settings: Settings) -> None:
    """A record stored by an older mapping (here: its title and ISBN lost) is put right from its raw."""
    app = FaultyProvider(records=vietnamese_records(3, START))
    with serve_in_thread(app) as url:
        await add_member(store, "VAST", url + "/oai")
        await harvest_members(store, settings, ["VAST"])
    good = (await stored(store, "VAST"))["oai:faulty:000001"]
    stale = good.model_copy(update={"title": None, "subjects": []})
    await store.commit_page("VAST", None, [stale])
    assert (await stored(store, "VAST"))["oai:faulty:000001"].title is None

    report = await rederive_member(store, "VAST")
    assert (report.updated, report.unchanged) == (1, 2)
    assert (await stored(store, "VAST"))["oai:faulty:000001"] == good


@pytest.mark.asyncio
async def test_metadata_the_parsers_refuse_is_left_as_it_was(store: RecordStore, settings: Settings) -> None:
    await store.add_member(MemberCreate(code="OLD", name_vi="Dữ liệu cũ"))
    kept = Record(member="OLD", oai_identifier="oai:old:1", title="Giữ nguyên", raw="<oai_dc:dc")
    fine = Record(member="OLD", oai_identifier="oai:old:2", title="Không có siêu dữ liệu gốc")  # no raw
    await store.commit_page("OLD", None, [kept, fine])
    report = await rederive_member(store, "OLD")
    assert not report.ok and report.error is not None
    assert report.error.startswith("2 record(s) could not be mapped again") and "oai:old:" in report.error
    assert (await stored(store, "OLD"))["oai:old:1"].title == "Giữ nguyên"


def test_rederive_record_keeps_identity_and_datestamp() -> None:
    raw = (
        '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Thư viện số</dc:title>'
        "<dc:identifier>ISBN 604-908-641-9</dc:identifier></oai_dc:dc>"
    )
    old = Record(member="HUE", oai_identifier="oai:hue:7", datestamp=START, title="cũ", raw=raw)
    new = rederive_record(old)
    assert (new.member, new.oai_identifier, new.datestamp) == ("HUE", "oai:hue:7", START)
    assert new.title == "Thư viện số" and new.identifiers.isbn == ["9786049086410"]

"""Harvesting real recorded OAI-PMH responses (MIT DSpace, Science History, BnF, ...) over loopback HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvesters.oai.client import OAIClient, make_http_client
from harvesters.oai.errors import (
    BadArgument,
    BadResumptionToken,
    BadVerb,
    CannotDisseminateFormat,
    IdDoesNotExist,
    MalformedPage,
)
from harvesters.records import parse_record
from harvesters.runner import harvest_members
from schemas.errors import HarvestError
from schemas.record import Record
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from tests.servers.oai_replay import ReplayApp, Route, cassette_routes, xml_route

from .support import add_member, stored

# The end of a list for fixtures that carry a resumptionToken whose next page was not recorded.
_END = (
    b'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    b"<responseDate>2024-01-01T00:00:00Z</responseDate><request>http://replay/oai</request>"
    b'<ListRecords><resumptionToken completeListSize="0"/></ListRecords></OAI-PMH>'
)


@pytest.fixture
def oai(fixtures_dir: Path) -> Path:
    return fixtures_dir / "oai"


@pytest.fixture
def replay() -> Iterator[tuple[ReplayApp, str]]:
    app = ReplayApp(routes=[])
    with serve_in_thread(app) as url:
        yield app, url + "/oai/request"


def _first_page_only(path: Path, **params: str | None) -> list[Route]:
    """The fixture answers the first ListRecords request; any resumption request ends the list."""
    return [
        xml_route(path, verb="ListRecords", resumptionToken=None, **params),
        Route(params={"verb": "ListRecords"}, body=_END),
    ]


@pytest.mark.asyncio
async def test_mit_dspace_set_harvest_stores_58_records(
    oai: Path, replay: tuple[ReplayApp, str], store: RecordStore, settings: Settings
) -> None:
    app, url = replay
    app.routes = cassette_routes(oai / "mitdspace__ListRecords_set_58.vcr.yaml")
    await add_member(store, "MIT", url, sets=["com_1721.1_140587"])

    [report] = await harvest_members(store, settings)

    assert report.ok, report.error
    assert (report.added, report.pages, report.quarantined) == (58, 1, 0)
    records = await stored(store, "MIT")
    assert len(records) == 58
    doubles = records["oai:dspace.mit.edu:1721.1/140717"]
    assert doubles.title == "Doubles"
    assert doubles.authors == ["Brody, Martin"]
    assert doubles.year == 1984  # dc:date "1984-10", not the DSpace accession timestamps before it
    assert doubles.identifiers.handle == ["1721.1/140717"]
    assert doubles.raw.startswith("<oai_dc:dc")
    listing = [q for q in app.requests if q["verb"] == "ListRecords"]
    assert listing == [{"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "com_1721.1_140587"}]
    info = await store.repository_info("MIT")
    assert info is not None and info["granularity"] == "YYYY-MM-DDThh:mm:ssZ"


@pytest.mark.asyncio
async def test_traject_two_page_sequence_follows_the_token_and_ends_on_empty_token(
    oai: Path, replay: tuple[ReplayApp, str], store: RecordStore, settings: Settings
) -> None:
    app, url = replay
    app.routes = [
        xml_route(
            oai / "traject__sciencehistory_page1_of_2.xml", verb="ListRecords", metadataPrefix="oai_dc"
        ),
        xml_route(
            oai / "traject__sciencehistory_page2_of_2.xml",
            verb="ListRecords",
            resumptionToken="dummy_resumption",
        ),
    ]
    await add_member(store, "SCI", url)

    [report] = await harvest_members(store, settings)

    assert report.ok, report.error
    assert (report.added, report.pages) == (2, 2)
    assert [r.hits for r in app.routes] == [1, 1]
    titles = {oai_id: r.title for oai_id, r in (await stored(store)).items()}
    assert titles == {
        "oai:sciencehistoryorg:fq977t769": "Spice Storage",  # page 1
        "oai:sciencehistoryorg:w0892992w": "Benzaldehyde Plant",  # page 2, reached by the token
    }
    in_progress, high_water = await store.get_harvest_state("SCI")
    assert in_progress is None and high_water is not None


@pytest.mark.asyncio
async def test_deleted_header_turns_the_stored_record_into_a_tombstone(
    oai: Path, replay: tuple[ReplayApp, str], store: RecordStore, settings: Settings
) -> None:
    app, url = replay
    app.routes = cassette_routes(
        oai / "mitdspace__ListRecords_with_deleted.vcr.yaml", keep={"verb", "metadataPrefix"}
    )
    await add_member(store, "MIT", url)
    ident = "oai:dspace.mit.edu:1721.1/112746"
    await store.commit_page("MIT", None, [Record(member="MIT", oai_identifier=ident, title="Old")])

    [report] = await harvest_members(store, settings)

    assert report.ok, report.error
    assert report.deleted == 1
    tomb = (await stored(store))[ident]
    assert tomb.deleted and tomb.title is None
    assert (await store.record_counts("MIT"))["MIT"].deleted == 1


@pytest.mark.asyncio
async def test_no_records_match_is_a_successful_empty_harvest(
    oai: Path, replay: tuple[ReplayApp, str], store: RecordStore, settings: Settings
) -> None:
    app, url = replay
    app.routes = [xml_route(oai / "sickle__noRecordsMatch.xml", verb="ListRecords")]
    await add_member(store, "EMPTY", url)

    [report] = await harvest_members(store, settings)

    assert report.ok and report.error is None
    assert (report.added, report.quarantined) == (0, 0)
    assert await stored(store) == {}


@pytest.mark.asyncio
async def test_mit_no_records_match_and_two_page_identifiers(
    oai: Path, replay: tuple[ReplayApp, str], settings: Settings
) -> None:
    app, url = replay
    app.routes = cassette_routes(oai / "mitdspace__noRecordsMatch.vcr.yaml") + cassette_routes(
        oai / "mitdspace__ListIdentifiers_2pages.vcr.yaml"
    )
    async with make_http_client(settings) as http:
        client = OAIClient(url, settings, http)
        none = [
            h async for h in client.list_identifiers("oai_dc", "hdl_1721.1_49432", "2021-12-26", "2021-12-26")
        ]
        headers = [
            h async for h in client.list_identifiers("oai_dc", "hdl_1721.1_49432", "2022-01-01", "2022-01-10")
        ]
    assert none == []
    assert len(headers) == 171
    assert len({h.findtext("{http://www.openarchives.org/OAI/2.0/}identifier") for h in headers}) == 171


@pytest.mark.asyncio
async def test_mit_list_sets_pages_through_ten_tokens(
    oai: Path, replay: tuple[ReplayApp, str], settings: Settings
) -> None:
    app, url = replay
    cassette = oai / "mitdspace__ListSets_paged.vcr.yaml"
    app.routes = cassette_routes(cassette)
    expected = sum(r.body.count(b"<set>") for r in app.routes)
    async with make_http_client(settings) as http:
        sets = await OAIClient(url, settings, http).list_sets()
    assert len(app.requests) == 10
    assert len(sets) == expected
    assert any(s.spec == "hdl_1721.1_18214" and s.name == "Working Papers" for s in sets)


QUIRKS = [
    # file, records expected, (identifier, field, value) checks
    ("phpoaipmh__bnf_gallica_ListRecords_namespaced.xml", 1, []),
    (
        "traject__sciencehistory_ListRecords_10.xml",
        10,
        [("oai:sciencehistoryorg:fq977t769", "title", "Spice Storage")],
    ),
    (
        "traject__sciencehistory_ListRecords_no_namespace.xml",
        10,
        [("oai:sciencehistoryorg:mk61rg92z", "title", "Warehouses")],
    ),
    (
        "vufindharvest__subjectsplus_quirky.xml",
        1,
        [("1", "title", "General"), ("1", "year", 2011), ("1", "publisher", "HealthNet Nepal")],
    ),
    ("pyoai_eur2003__ListRecords.xml", 16, []),
    ("sickle__ListRecords.xml", None, []),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "count", "checks"),
    QUIRKS,
    ids=[q[0].split("__")[0] + "-" + str(i) for i, q in enumerate(QUIRKS)],
)
async def test_namespace_and_format_quirks_read_the_same(
    oai: Path,
    replay: tuple[ReplayApp, str],
    store: RecordStore,
    settings: Settings,
    name: str,
    count: int | None,
    checks: list[tuple[str, str, object]],
) -> None:
    app, url = replay
    path = oai / name
    app.routes = _first_page_only(path)
    await add_member(store, "QUIRK", url)
    headers = len(re.findall(rb"<header[ >]", path.read_bytes()))

    [report] = await harvest_members(store, settings)

    assert report.ok, report.error
    records = await stored(store)
    assert report.quarantined == 0
    assert len(records) == (count if count is not None else headers)
    live = [r for r in records.values() if not r.deleted]
    assert all(r.title for r in live)
    for ident, fieldname, value in checks:
        assert getattr(records[ident], fieldname) == value
    if name.startswith("sickle"):
        assert any(r.deleted for r in records.values())


@pytest.mark.asyncio
async def test_identify_and_metadata_formats(
    oai: Path, replay: tuple[ReplayApp, str], settings: Settings
) -> None:
    app, url = replay
    app.routes = [
        xml_route(oai / "sickle__Identify.xml", verb="Identify"),
        xml_route(oai / "sickle__ListMetadataFormats.xml", verb="ListMetadataFormats"),
    ]
    async with make_http_client(settings) as http:
        client = OAIClient(url, settings, http)
        info = await client.identify()
        formats = await client.list_metadata_formats()
    assert info.granularity == "YYYY-MM-DD" and not info.seconds
    assert info.deleted_record == "persistent"
    assert "oai_dc" in {f.prefix for f in formats}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("sickle__badArgument.xml", BadArgument),
        ("sickle__cannotDisseminateFormat.xml", CannotDisseminateFormat),
        ("sickle__idDoesNotExist.xml", IdDoesNotExist),
        ("phpoaipmh__wustl_idDoesNotExist.xml", IdDoesNotExist),
        ("phpoaipmh__badVerb.xml", BadVerb),
        ("sickle__badResumptionToken.xml", BadResumptionToken),
    ],
)
async def test_oai_error_codes_become_exceptions(
    oai: Path, replay: tuple[ReplayApp, str], settings: Settings, name: str, error: type[Exception]
) -> None:
    app, url = replay
    app.routes = [xml_route(oai / name)]
    async with make_http_client(settings) as http:
        with pytest.raises(error):
            await OAIClient(url, settings, http).get_record("oai:x:1", "oai_dc")


@pytest.mark.asyncio
async def test_http500_cassette_retries_then_fails_only_the_broken_records(
    oai: Path, replay: tuple[ReplayApp, str], tmp_path: Path
) -> None:
    app, url = replay
    app.routes = cassette_routes(oai / "mitdspace__GetRecord_http500.vcr.yaml")
    settings = Settings(home=tmp_path, backoff_base=0.01, max_retries=2)
    good, bad = [], []
    async with make_http_client(settings) as http:
        client = OAIClient(url, settings, http)
        for route in app.routes:
            ident = str(route.params["identifier"])
            try:
                good.append(parse_record(await client.get_record(ident, "oai_dc"), "MIT"))
            except HarvestError as exc:
                bad.append((ident, str(exc)))
    assert len(good) == 2 and all(r.title for r in good)
    assert len(bad) == 2 and all("HTTP 500" in msg for _, msg in bad)
    assert sorted(r.hits for r in app.routes) == [1, 1, 3, 3]  # first try + max_retries


@pytest.mark.asyncio
async def test_broken_page_is_quarantined_and_the_run_fails(
    oai: Path, replay: tuple[ReplayApp, str], store: RecordStore, settings: Settings
) -> None:
    app, url = replay
    app.routes = [xml_route(oai / "sickle__ListRecordsBroken.xml", verb="ListRecords")]
    await add_member(store, "BROKEN", url)

    [report] = await harvest_members(store, settings)

    assert not report.ok and report.error and "MalformedPage" in report.error
    [item] = await store.list_quarantine("BROKEN")
    assert item.reason.startswith("malformed ListRecords page") and item.raw == "broken xml"
    async with make_http_client(settings) as http:
        with pytest.raises(MalformedPage):
            await OAIClient(url, settings, http).list_page("ListRecords", "oai_dc")


@pytest.mark.asyncio
async def test_alma_marcxml_page_goes_through_the_marc_parser(
    oai: Path, replay: tuple[ReplayApp, str], store: RecordStore, settings: Settings
) -> None:
    pytest.importorskip("harvesters.parse_marc")
    app, url = replay
    app.routes = _first_page_only(oai / "vufindharvest__alma_marc21_ListRecords_100.xml")
    await add_member(store, "ALMA", url, metadata_prefix="marcxml")

    [report] = await harvest_members(store, settings)

    assert report.ok, report.error
    records = await stored(store)
    assert len(records) + report.quarantined == 100
    assert report.added >= 95
    assert all(r.raw_format == "marcxml" for r in records.values())

"""The union catalogue's OAI-PMH feed, harvested over real HTTP by sickle and by pyoai's client."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import httpx
import pytest

from schemas.settings import Settings

from .conftest import CODES, PUBLIC_URL
from .oai_support import HOST, NS, error_code, oai_get, oai_id, pyoai, sickle, store_view

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyoai's own (cgi, utcnow)


@pytest.mark.parametrize("prefix", ["oai_dc", "marcxml"])
def test_sickle_harvests_every_record_in_both_formats(
    lienhop_url: str, catalogue: Settings, prefix: str
) -> None:
    view = store_view(catalogue)
    harvested = {}
    for record in sickle(lienhop_url).ListRecords(metadataPrefix=prefix, ignore_deleted=False):
        assert record.header.identifier not in harvested, "an item listed twice"
        harvested[record.header.identifier] = record

    assert set(harvested) == view.identifiers
    assert {i for i, r in harvested.items() if r.header.deleted} == view.deleted
    assert view.deleted, "the demo has tombstones"
    for ident, stored in view.rows.items():
        record = harvested[ident]
        if stored.deleted:
            assert record.xml.find("o:metadata", NS) is None
            continue
        xml = record.xml
        if prefix == "oai_dc":
            title = xml.findtext(".//dc:title", namespaces=NS)
            assert title is not None and stored.record.title is not None
            assert title.startswith(stored.record.title)
            assert unicodedata.is_normalized("NFC", title)
        else:
            title = xml.findtext(".//marc:datafield[@tag='245']/marc:subfield[@code='a']", namespaces=NS)
            assert title is not None and stored.record.title is not None
            assert unicodedata.normalize("NFC", title).startswith(stored.record.title)


def test_pyoai_client_harvests_every_record_and_verb(
    lienhop_url: str, catalogue: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = store_view(catalogue)
    client = pyoai(lienhop_url, monkeypatch)

    identify = client.identify()
    assert identify.baseURL() == f"{PUBLIC_URL}/oai"
    assert identify.deletedRecord() == "persistent"
    assert identify.granularity() == "YYYY-MM-DDThh:mm:ssZ"
    assert {f[0] for f in client.listMetadataFormats()} == {"oai_dc", "marcxml"}
    sets = {spec for spec, _name, _description in client.listSets()}
    assert {f"member:{c}" for c in CODES} <= sets and "type:thesis" in sets

    for prefix in ("oai_dc", "marcxml"):
        records = list(client.listRecords(metadataPrefix=prefix))
        idents = [header.identifier() for header, _metadata, _about in records]
        assert len(idents) == len(set(idents)) == len(view.identifiers)
        assert set(idents) == view.identifiers
        deleted = {h.identifier() for h, _m, _a in records if h.isDeleted()}
        assert deleted == view.deleted
        live = next((h, m) for h, m, _a in records if not h.isDeleted())
        stored = view.rows[live[0].identifier()].record
        assert live[1].getField("title")[0].startswith(stored.title or "")

    headers = list(client.listIdentifiers(metadataPrefix="oai_dc"))
    assert {h.identifier() for h in headers} == view.identifiers

    ident = next(i for i, r in view.rows.items() if not r.deleted and r.record.member == "VAST")
    header, metadata, _about = client.getRecord(identifier=ident, metadataPrefix="marcxml")
    assert header.identifier() == ident
    # VAST was harvested as MARCXML: its own MARC is passed on, 001 is the member's control number
    assert metadata.getField("control") == [view.rows[ident].record.identifiers.local_id]


@pytest.mark.parametrize("code", CODES)
def test_a_set_per_member(lienhop_url: str, catalogue: Settings, code: str) -> None:
    view = store_view(catalogue)
    headers = list(sickle(lienhop_url).ListIdentifiers(metadataPrefix="oai_dc", set=f"member:{code}"))
    assert {h.identifier for h in headers} == view.of_member(code)
    assert all(f"member:{code}" in h.setSpecs for h in headers)


def test_a_set_per_type_keeps_tombstones(lienhop_url: str, catalogue: Settings) -> None:
    view = store_view(catalogue)
    theses = {i for i, r in view.rows.items() if not r.deleted and r.record.type == "thesis"}
    headers = list(sickle(lienhop_url).ListIdentifiers(metadataPrefix="oai_dc", set="type:thesis"))
    listed = {h.identifier for h in headers}
    # a tombstone has no type any more, so every type set lists the deletions
    assert listed == theses | view.deleted
    assert all("type:thesis" in h.setSpecs for h in headers if not h.deleted)


def test_identifiers_and_base_url_come_from_the_public_url(lienhop_url: str, catalogue: Settings) -> None:
    response = httpx.get(
        f"{lienhop_url}/oai", params={"verb": "Identify"}, headers={"Host": "attacker.example"}, timeout=30
    )
    from lxml import etree

    root = etree.fromstring(response.content)
    assert root.findtext("o:request", namespaces=NS) == f"{PUBLIC_URL}/oai"
    assert root.findtext("o:Identify/o:baseURL", namespaces=NS) == f"{PUBLIC_URL}/oai"
    assert root.findtext(".//{*}repositoryIdentifier") == HOST
    first = oai_get(lienhop_url, verb="ListIdentifiers", metadataPrefix="oai_dc")
    assert first.findtext(".//o:header/o:identifier", namespaces=NS).startswith(f"oai:{HOST}:")


def test_pages_are_bounded_and_carry_cursor_and_complete_list_size(
    lienhop_url: str, catalogue: Settings
) -> None:
    total = len(store_view(catalogue).identifiers)
    root = oai_get(lienhop_url, verb="ListRecords", metadataPrefix="oai_dc")
    seen, cursors = 0, []
    while True:
        page = root.findall("o:ListRecords/o:record", NS)
        assert 0 < len(page) <= 100
        token = root.find("o:ListRecords/o:resumptionToken", NS)
        assert token is not None and token.get("completeListSize") == str(total)
        cursors.append(int(token.get("cursor")))
        seen += len(page)
        if not token.text:
            break
        root = oai_get(lienhop_url, verb="ListRecords", resumptionToken=token.text)
    assert seen == total and cursors == list(range(0, total, 100))


def test_from_and_until_select_by_change_time(lienhop_url: str, catalogue: Settings) -> None:
    view = store_view(catalogue)
    root = oai_get(lienhop_url, verb="Identify")
    earliest = root.findtext("o:Identify/o:earliestDatestamp", namespaces=NS)
    everything = list(sickle(lienhop_url).ListIdentifiers(metadataPrefix="oai_dc", **{"from": earliest}))
    assert len(everything) == len(view.identifiers)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    today = list(sickle(lienhop_url).ListIdentifiers(metadataPrefix="oai_dc", **{"from": day, "until": day}))
    assert len(today) == len(view.identifiers)  # harvested into the store today
    before = oai_get(lienhop_url, verb="ListIdentifiers", metadataPrefix="oai_dc", until="2020-01-01")
    assert error_code(before) == "noRecordsMatch"


def test_get_record_gives_own_marc_or_a_mapping(lienhop_url: str, catalogue: Settings) -> None:
    view = store_view(catalogue)
    for ident, stored in view.rows.items():
        if stored.deleted:
            deleted = oai_get(lienhop_url, verb="GetRecord", identifier=ident, metadataPrefix="oai_dc")
            assert deleted.find(".//o:header", NS).get("status") == "deleted"
            assert deleted.find(".//o:metadata", NS) is None
            break
    own = next(r for r in view.rows.values() if r.record.member == "VAST" and not r.deleted)
    root = oai_get(lienhop_url, verb="GetRecord", identifier=oai_id(own.id), metadataPrefix="marcxml")
    assert root.findtext(".//marc:controlfield[@tag='003']", namespaces=NS) == "VAST"
    mapped = next(r for r in view.rows.values() if r.record.member == "HUE" and not r.deleted)
    root = oai_get(lienhop_url, verb="GetRecord", identifier=oai_id(mapped.id), metadataPrefix="marcxml")
    assert root.findtext(".//marc:controlfield[@tag='001']", namespaces=NS) == mapped.id
    links = [u.text for u in root.iterfind(".//marc:datafield[@tag='856']/marc:subfield", NS)]
    assert f"{PUBLIC_URL}/record/{mapped.id}" in links


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "badVerb"),
        ({"verb": "Harvest"}, "badVerb"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "Identify", "set": "x"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
        (
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2024-01-01T00:00:00.5Z"},
            "badArgument",
        ),
        (
            {
                "verb": "ListRecords",
                "metadataPrefix": "oai_dc",
                "from": "2024-01-01",
                "until": "2025-01-01T00:00:00Z",
            },
            "badArgument",
        ),
        (
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "2025-01-02", "until": "2025-01-01"},
            "badArgument",
        ),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": ""}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "mods"}, "cannotDisseminateFormat"),
        (
            {"verb": "GetRecord", "metadataPrefix": "mods", "identifier": f"oai:{HOST}:x"},
            "cannotDisseminateFormat",
        ),
        ({"verb": "ListRecords", "resumptionToken": "forged.0000"}, "badResumptionToken"),
        ({"verb": "ListSets", "resumptionToken": "anything"}, "badResumptionToken"),
        (
            {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": f"oai:{HOST}:hue-0"},
            "idDoesNotExist",
        ),
        (
            {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:127.0.0.1:hue-0"},
            "idDoesNotExist",
        ),
        ({"verb": "ListMetadataFormats", "identifier": "oai:nowhere:1"}, "idDoesNotExist"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "member:NOWHERE"}, "noRecordsMatch"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "type:map"}, "noRecordsMatch"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "colour:red"}, "noRecordsMatch"),
    ],
)
def test_protocol_errors(lienhop_url: str, params: dict[str, str], code: str) -> None:
    root = oai_get(lienhop_url, **params)
    assert error_code(root) == code
    if code in {"badVerb", "badArgument"}:
        assert not root.find("o:request", NS).attrib  # an invalid request is not echoed back


def test_repeated_arguments_token_of_another_verb_and_post(lienhop_url: str) -> None:
    from lxml import etree

    repeated = httpx.get(f"{lienhop_url}/oai?verb=ListSets&verb=ListSets", timeout=30)
    assert error_code(etree.fromstring(repeated.content)) == "badVerb"
    repeated = httpx.get(
        f"{lienhop_url}/oai?verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=x", timeout=30
    )
    assert error_code(etree.fromstring(repeated.content)) == "badArgument"
    first = oai_get(lienhop_url, verb="ListIdentifiers", metadataPrefix="oai_dc")
    token = first.findtext(".//o:resumptionToken", namespaces=NS)
    other = oai_get(lienhop_url, verb="ListRecords", resumptionToken=token)
    assert error_code(other) == "badResumptionToken"
    posted = httpx.post(
        f"{lienhop_url}/oai",
        content="verb=ListIdentifiers&metadataPrefix=oai_dc&set=member%3AHUE",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    headers = etree.fromstring(posted.content).findall(".//o:header", NS)
    assert headers and all(h.findtext("o:setSpec", namespaces=NS) == "member:HUE" for h in headers)

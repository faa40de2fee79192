"""The demo OAI-PMH provider: verbs, errors, paging, date ranges, deletions; and the generator."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import httpx
import pytest
from lxml import etree
from stdnum import isbn

from app.demo.generator import generate, shared_works
from app.demo.members import DEMO_MEMBERS
from tests.app.conftest import demo_provider
from tests.servers import serve_in_thread

NS = {"o": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/"}


@pytest.fixture(scope="module")
def oai() -> Iterator[httpx.Client]:
    """A client of a provider with 250 records per member in pages of 100."""
    with serve_in_thread(demo_provider(count=250)) as url, httpx.Client(base_url=f"{url}/demo/oai") as http:
        yield http


def get(http: httpx.Client, code: str = "NASATI", **params: str) -> etree._Element:
    response = http.get(f"/{code}", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    return etree.fromstring(response.content)


def error_code(root: etree._Element) -> str | None:
    error = root.find("o:error", NS)
    return None if error is None else error.get("code")


def test_identify(oai: httpx.Client) -> None:
    root = get(oai, verb="Identify")
    assert root.findtext("o:Identify/o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert root.findtext("o:Identify/o:deletedRecord", namespaces=NS) == "persistent"
    assert root.findtext("o:Identify/o:protocolVersion", namespaces=NS) == "2.0"
    assert root.findtext("o:Identify/o:baseURL", namespaces=NS).endswith("/demo/oai/NASATI")
    assert root.find("o:request", NS).get("verb") == "Identify"


def test_list_records_pages_with_resumption_tokens(oai: httpx.Client) -> None:
    seen: list[str] = []
    root = get(oai, verb="ListRecords", metadataPrefix="oai_dc")
    while True:
        seen += [h.text for h in root.iterfind("o:ListRecords/o:record/o:header/o:identifier", NS)]
        token = root.find("o:ListRecords/o:resumptionToken", NS)
        assert token is not None and token.get("completeListSize") == "250"
        if not token.text:
            break
        root = get(oai, verb="ListRecords", resumptionToken=token.text)
    assert len(seen) == len(set(seen)) == 250


def test_deleted_records_have_header_only(oai: httpx.Client) -> None:
    root = get(oai, verb="ListIdentifiers", metadataPrefix="marcxml", **{"from": "2025-09-01T00:00:00Z"})
    deleted = root.findall("o:ListIdentifiers/o:header[@status='deleted']", NS)
    assert deleted, "the demo keeps tombstones"
    ident = deleted[0].findtext("o:identifier", namespaces=NS)
    record = get(oai, verb="GetRecord", identifier=ident, metadataPrefix="oai_dc")
    assert record.find("o:GetRecord/o:record/o:metadata", NS) is None


def test_from_until_and_sets(oai: httpx.Client) -> None:
    root = get(oai, verb="ListIdentifiers", metadataPrefix="oai_dc", set="type:thesis")
    stamps = [h.findtext("o:datestamp", namespaces=NS) for h in root.iterfind(".//o:header", NS)]
    assert stamps and all(
        s == "type:thesis"
        for h in root.iterfind(".//o:header", NS)
        for s in [h.findtext("o:setSpec", namespaces=NS)]
    )
    middle = sorted(stamps)[len(stamps) // 2]
    later = get(oai, verb="ListIdentifiers", metadataPrefix="oai_dc", set="type:thesis", **{"from": middle})
    later_stamps = [h.text for h in later.iterfind(".//o:header/o:datestamp", NS)]
    assert later_stamps and min(later_stamps) >= middle
    day = get(oai, verb="ListIdentifiers", metadataPrefix="oai_dc", until="2018-12-31")
    assert error_code(day) == "noRecordsMatch"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "badVerb"),
        ({"verb": "Harvest"}, "badVerb"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
        (
            {
                "verb": "ListRecords",
                "metadataPrefix": "oai_dc",
                "from": "2020-01-01",
                "until": "2021-01-01T00:00:00Z",
            },
            "badArgument",
        ),
        ({"verb": "Identify", "set": "x"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "mods"}, "cannotDisseminateFormat"),
        ({"verb": "ListRecords", "resumptionToken": "forged.0000"}, "badResumptionToken"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "resumptionToken": "x"}, "badArgument"),
        ({"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:nowhere:1"}, "idDoesNotExist"),
        ({"verb": "ListMetadataFormats", "identifier": "oai:nowhere:1"}, "idDoesNotExist"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "type:map"}, "noRecordsMatch"),
    ],
)
def test_protocol_errors(oai: httpx.Client, params: dict[str, str], code: str) -> None:
    root = get(oai, **params)
    assert error_code(root) == code
    if code in {"badVerb", "badArgument"}:
        assert not root.find("o:request", NS).attrib  # the request is not echoed back when it is invalid


def test_repeated_argument_and_post(oai: httpx.Client) -> None:
    response = oai.get("/NASATI?verb=ListSets&verb=ListSets")
    assert error_code(etree.fromstring(response.content)) == "badVerb"
    posted = oai.post(
        "/NASATI", content="verb=ListSets", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert etree.fromstring(posted.content).find("o:ListSets/o:set", NS) is not None


def test_unknown_member_is_404(oai: httpx.Client) -> None:
    assert oai.get("/NOWHERE", params={"verb": "Identify"}).status_code == 404


def test_generator_is_deterministic_and_realistic() -> None:
    assert generate("HUE") == generate.__wrapped__("HUE")  # same records on every run
    records = [r for m in DEMO_MEMBERS for r in generate(m.code)]
    assert all(150 <= len(generate(m.code)) <= 400 for m in DEMO_MEMBERS)
    assert all(isbn.is_valid(r.isbn) for r in records if r.isbn)
    assert any(r.title != unicodedata.normalize("NFC", r.title) for r in records), "some NFD text on purpose"
    assert sum(r.deleted for r in generate("NASATI")) == 2
    assert any(r.title.startswith("Luận văn thạc sĩ") for r in records)
    assert {r.language for r in records} == {"vie", "eng"}
    assert len(shared_works()[0].holders) >= 4

"""``/sru``: SRU 1.2 read by sruthi (a client that is not ours) over real HTTP, SRU 2.0 and the
diagnostics read from the raw responses."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pymarc
import pytest
import sruthi
from lxml import etree

from schemas.normal_forms import normalise_isbn
from schemas.settings import Settings
from schemas.text import folded_text

from .conftest import PUBLIC_URL
from .lookup_support import Catalogue, catalogue_of

SRW = "http://www.loc.gov/zing/srw/"
SRU2 = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
NS = {
    "srw": SRW,
    "sru2": SRU2,
    "diag": "http://www.loc.gov/zing/srw/diagnostic/",
    "diag2": "http://docs.oasis-open.org/ns/search-ws/diagnostic",
    "dc": "http://purl.org/dc/elements/1.1/",
    "marc": "http://www.loc.gov/MARC21/slim",
    "lh": "info:lienhop/sru/holdings-1",
}
V12 = {"operation": "searchRetrieve", "version": "1.2"}


@pytest.fixture(scope="module")
def sru_url(lienhop_url: str) -> str:
    return f"{lienhop_url}/sru"


@pytest.fixture(scope="module")
def http(lienhop_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lienhop_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def known(catalogue: Settings) -> Catalogue:
    return catalogue_of(catalogue)


def _xml(response: httpx.Response) -> etree._Element:
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def _diagnostic(root: etree._Element) -> str:
    uris = root.xpath(
        "//diag:diagnostic/diag:uri/text() | //diag2:diagnostic/diag2:uri/text()", namespaces=NS
    )
    assert len(uris) == 1, etree.tostring(root)
    return str(uris[0])


def test_sruthi_reads_explain(sru_url: str) -> None:
    info = sruthi.explain(sru_url)

    assert info.sru_version == "1.2"
    assert info.server["host"] == "lienhop.example.vn" and info.server["database"] == "sru"
    assert {"title", "creator", "subject", "date", "identifier"} <= set(info.index["dc"])
    assert {"isbn", "issn"} <= set(info.index["bath"]) and "identifier" in info.index["rec"]
    assert set(info.schema) == {"dc", "marcxml"}
    assert info.config["maximumRecords"] == 100


def test_sruthi_pages_through_one_record_per_work(sru_url: str) -> None:
    records = sruthi.searchretrieve(sru_url, query='dc.title = "thư viện"', maximum_records=3)

    assert records.count > 3
    seen = list(records)
    works = [r["extra"]["id"] for r in seen]
    assert len(seen) > 3, "sruthi followed nextRecordPosition"
    assert len(works) == len(set(works)), "a work came twice"
    for record in seen:
        titles = record["title"] if isinstance(record["title"], list) else [record["title"]]
        assert any("thu vien" in folded_text(t) for t in titles), titles
        assert record["schema"] == "info:srw/schema/1/dc-v1.1"


def test_sruthi_reads_marcxml_records(sru_url: str, http: httpx.Client, known: Catalogue) -> None:
    isbn = known.shared("isbn")[0]
    records = sruthi.searchretrieve(sru_url, query=f"bath.isbn = {isbn}", record_schema="marcxml")
    assert records.count >= 1 and records[0]["schema"] == "info:srw/schema/1/marcxml-v1.1"

    root = _xml(http.get("/sru", params={**V12, "query": f"bath.isbn = {isbn}", "recordSchema": "marcxml"}))
    (data,) = root.xpath("//srw:recordData/marc:record", namespaces=NS)
    (marc,) = pymarc.parse_xml_to_array(_as_file(data))
    assert isbn in {normalise_isbn(f.get("a")) for f in marc.get_fields("020")}
    holders = root.xpath("//lh:work/lh:holder/@code", namespaces=NS)
    assert set(holders) == known.holders["isbn", isbn]


def _as_file(element: etree._Element) -> io.BytesIO:
    """A MARCXML collection of the one record, as pymarc reads files."""
    collection = etree.Element("{http://www.loc.gov/MARC21/slim}collection")
    collection.append(element)
    return io.BytesIO(etree.tostring(collection))


def test_sruthi_raises_the_diagnostic(sru_url: str) -> None:
    with pytest.raises(sruthi.errors.SruError):
        sruthi.searchretrieve(sru_url, query="dc.publisher = x")


def test_booleans_and_dates_narrow_the_results(http: httpx.Client) -> None:
    def search(query: str) -> etree._Element:
        return _xml(http.get("/sru", params={**V12, "query": query, "maximumRecords": 100}))

    def count(root: etree._Element) -> int:
        return int(root.findtext("srw:numberOfRecords", namespaces=NS) or -1)

    everything = search('dc.title = "thư viện"')
    recent = search('dc.title = "thư viện" and dc.date >= 2015')
    older = search('dc.title = "thư viện" not dc.date >= 2015')
    window = search('dc.title = "thư viện" and dc.date within "2010 2015"')

    assert count(recent) + count(older) == count(everything) > 0
    assert all(int(y) >= 2015 for y in recent.xpath("//dc:date/text()", namespaces=NS))
    assert all(int(y) < 2015 for y in older.xpath("//dc:date/text()", namespaces=NS))
    assert all(2010 <= int(y) <= 2015 for y in window.xpath("//dc:date/text()", namespaces=NS))
    either = search('dc.title any "thư zzyzx"')
    assert count(either) >= count(everything)
    assert count(search('dc.title all "thư zzyzx"')) == 0


def test_start_record_need_not_fall_on_a_page(http: httpx.Client) -> None:
    def positions(start: int, maximum: int) -> list[str]:
        params = {**V12, "query": "thư", "startRecord": start, "maximumRecords": maximum}
        return _xml(http.get("/sru", params=params)).xpath("//srw:recordPosition/text()", namespaces=NS)

    assert positions(3, 2)[:1] == ["3"]
    assert positions(1, 2)[:1] == ["1"]


def test_rec_identifier_names_a_work(http: httpx.Client, known: Catalogue) -> None:
    isbn = known.shared("isbn")[0]
    found = _xml(http.get("/sru", params={**V12, "query": f"bath.isbn = {isbn}"}))
    work_id = found.xpath("//lh:work/@id", namespaces=NS)[0]

    by_id = _xml(http.get("/sru", params={**V12, "query": f"rec.identifier = {work_id}"}))

    assert by_id.findtext("srw:numberOfRecords", namespaces=NS) == "1"
    assert by_id.xpath("//lh:work/@id", namespaces=NS) == [work_id]


def test_sru_2_answers_in_its_own_namespace(http: httpx.Client) -> None:
    response = http.get(
        "/sru", params={"query": "thư viện số", "maximumRecords": 2, "recordXMLEscaping": "string"}
    )

    root = _xml(response)
    assert response.headers["content-type"].startswith("application/sru+xml")
    assert root.tag == f"{{{SRU2}}}searchRetrieveResponse"
    assert int(root.findtext("sru2:numberOfRecords", namespaces=NS) or 0) > 0
    escaped = root.xpath("//sru2:record/sru2:recordData/text()", namespaces=NS)
    assert escaped and etree.fromstring(escaped[0].encode()).tag.endswith("}dc")
    assert root.xpath("//sru2:recordXMLEscaping/text()", namespaces=NS)[0] == "string"
    explain = _xml(http.get("/sru"))
    assert explain.tag == f"{{{SRU2}}}explainResponse"


@pytest.mark.parametrize(
    ("params", "number"),
    [
        ({**V12}, 7),
        ({**V12, "query": "(thư viện"}, 10),
        ({**V12, "query": "dc.publisher = x"}, 16),
        ({**V12, "query": "dc.title < x"}, 19),
        ({**V12, "query": "dc.title =/stem x"}, 20),
        ({**V12, "query": "dc.title = a*b"}, 28),
        ({**V12, "query": "dc.date = soon"}, 36),
        ({**V12, "query": "bath.isbn = 123"}, 36),
        ({**V12, "query": "a prox b"}, 37),
        ({**V12, "query": "thư", "startRecord": "100000"}, 61),
        ({**V12, "query": "thư", "startRecord": "0"}, 6),
        ({**V12, "query": "thư", "maximumRecords": "many"}, 6),
        ({**V12, "query": "thư", "recordSchema": "mods"}, 66),
        ({**V12, "query": "thư", "recordPacking": "json"}, 71),
        ({**V12, "query": "thư", "recordXPath": "/x"}, 72),
        ({**V12, "query": "thư sortBy dc.creator"}, 80),
        ({"operation": "scan", "version": "1.2", "scanClause": "x"}, 4),
        ({"operation": "explain", "version": "3.0"}, 5),
        ({**V12, "query": "thư", "colour": "red"}, 8),
        ({"query": "dc.foo = x"}, 16),
    ],
)
def test_each_error_is_its_diagnostic(http: httpx.Client, params: dict, number: int) -> None:
    root = _xml(http.get("/sru", params=params))

    assert _diagnostic(root) == f"info:srw/diagnostic/1/{number}"
    assert not root.xpath("//srw:record | //sru2:record", namespaces=NS)


def test_post_is_answered_as_get(http: httpx.Client) -> None:
    form = {**V12, "query": 'dc.title = "thư viện"', "maximumRecords": "1"}

    posted = _xml(http.post("/sru", data=form))
    got = _xml(http.get("/sru", params=form))

    assert etree.tostring(posted) == etree.tostring(got)


def test_the_base_url_comes_from_the_settings_not_the_request(http: httpx.Client) -> None:
    root = _xml(
        http.get("/sru", params={"operation": "explain", "version": "1.2"}, headers={"Host": "evil.test"})
    )

    assert root.xpath("//*[local-name()='host']/text()") == [PUBLIC_URL.split("//")[1]]


def test_the_openapi_document_lists_the_sru_media_types(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]["/sru"]

    assert {"text/xml", "application/sru+xml"} <= set(paths["get"]["responses"]["200"]["content"])
    assert "query" in {p["name"] for p in paths["get"]["parameters"]}
    assert "application/x-www-form-urlencoded" in paths["post"]["requestBody"]["content"]

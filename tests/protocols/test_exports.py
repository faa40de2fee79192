"""``GET /records/{id}`` in each export format, by ``?format=`` and by ``Accept``, read back by the
libraries reference managers and library systems use; and ``/opensearch.xml``."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import httpx
import pytest
from lxml import etree

from schemas.settings import Settings
from store.records import StoredRecord

from .conftest import PUBLIC_URL
from .export_readers import READERS
from .oai_support import store_view

MEDIA = {
    "marcxml": "application/marcxml+xml",
    "marc": "application/marc",
    "dc": "application/xml",
    "ris": "application/x-research-info-systems",
    "bibtex": "application/x-bibtex",
    "csl-json": "application/vnd.citationstyles.csl+json",
}


@pytest.fixture(scope="module")
def http(lienhop_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lienhop_url, timeout=30) as client:
        yield client


def _pick(settings: Settings, member: str) -> StoredRecord:
    """A live record of ``member`` with a Vietnamese title, authors and a year."""
    for row in store_view(settings).rows.values():
        record = row.record
        if row.deleted or record.member != member or not (record.authors and record.year and record.title):
            continue
        if record.language == "vie" and not record.title.isascii():
            return row
    raise AssertionError(f"no Vietnamese record of {member}")


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@pytest.mark.parametrize("member", ["HUE", "VAST"])  # harvested as Dublin Core / as MARCXML
@pytest.mark.parametrize(
    ("format", "by"),
    # Dublin Core has no media type of its own to ask for: ?format=dc only
    [(f, "query") for f in MEDIA] + [(f, "accept") for f in MEDIA if f != "dc"],
)
def test_each_export_reads_back_with_vietnamese_intact(
    http: httpx.Client, catalogue: Settings, member: str, format: str, by: str
) -> None:
    stored = _pick(catalogue, member)
    record = stored.record
    if by == "query":
        response = http.get(f"/records/{stored.id}", params={"format": format})
    else:
        response = http.get(f"/records/{stored.id}", headers={"Accept": MEDIA[format]})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == MEDIA[format]
    assert stored.id in response.headers["content-disposition"]

    back = READERS[format](response.content)

    assert record.title is not None
    assert _folded(back.title).startswith(record.title)
    first_family = record.authors[0].replace(",", " ").split()[0]
    assert any(first_family in _folded(a) for a in back.authors), (back.authors, record.authors)
    assert back.year is not None and str(record.year) in back.year
    if format == "csl-json":  # citeproc-py's rendering keeps the diacritics too
        assert record.title.split(":")[0] in _folded(back.text)
        assert first_family in back.text


def test_own_marc_is_passed_on_and_dublin_core_is_mapped(http: httpx.Client, catalogue: Settings) -> None:
    own = _pick(catalogue, "VAST")
    back = READERS["marcxml"](http.get(f"/records/{own.id}", params={"format": "marcxml"}).content)
    assert own.record.identifiers.local_id and own.record.identifiers.local_id in back.text
    mapped = _pick(catalogue, "HUE")
    body = http.get(f"/records/{mapped.id}", params={"format": "marc"}).content
    assert f"{PUBLIC_URL}/record/{mapped.id}" in READERS["marc"](body).text


def test_unknown_format_is_a_422_naming_the_allowed_values(http: httpx.Client, catalogue: Settings) -> None:
    stored = _pick(catalogue, "HUE")
    response = http.get(f"/records/{stored.id}", params={"format": "endnote"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert all(name in detail for name in ("json", *MEDIA))


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "application/json"),
        ("application/x-bibtex;q=0.5, application/json", "application/json"),
        (
            "application/json;q=0.5, application/x-research-info-systems",
            "application/x-research-info-systems",
        ),
        ("text/x-bibtex", "application/x-bibtex"),
        ("image/png", "application/json"),
    ],
)
def test_json_stays_the_default(
    http: httpx.Client, catalogue: Settings, accept: str | None, expected: str
) -> None:
    stored = _pick(catalogue, "HUE")
    headers = {"Accept": accept} if accept else {}
    response = http.get(f"/records/{stored.id}", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == expected
    if expected == "application/json":
        body = response.json()
        assert {"id", "seq", "deleted", "record", "member", "opac_url", "also_held_by", "raw_url"} <= set(
            body
        )
        assert body["record"]["title"] == stored.record.title


def test_a_withdrawn_record_has_no_export(http: httpx.Client, catalogue: Settings) -> None:
    gone = next(r for r in store_view(catalogue).rows.values() if r.deleted)
    assert http.get(f"/records/{gone.id}").json()["deleted"] is True
    response = http.get(f"/records/{gone.id}", params={"format": "ris"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_openapi_says_what_the_endpoints_answer(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    record = paths["/records/{record_id}"]["get"]
    assert set(MEDIA.values()) | {"application/json"} <= set(record["responses"]["200"]["content"])
    assert any(p["name"] == "format" for p in record["parameters"])
    assert "text/xml" in paths["/oai"]["get"]["responses"]["200"]["content"]
    assert "application/x-www-form-urlencoded" in paths["/oai"]["post"]["requestBody"]["content"]
    assert (
        "application/opensearchdescription+xml"
        in paths["/opensearch.xml"]["get"]["responses"]["200"]["content"]
    )


def test_opensearch_description_and_suggestions(http: httpx.Client, catalogue: Settings) -> None:
    response = http.get("/opensearch.xml")
    assert response.headers["content-type"].startswith("application/opensearchdescription+xml")
    root = etree.fromstring(response.content)
    ns = {"os": "http://a9.com/-/spec/opensearch/1.1/"}
    urls = {u.get("type"): u.get("template") for u in root.iterfind("os:Url", ns)}
    assert urls["text/html"] == f"{PUBLIC_URL}/?q={{searchTerms}}"
    suggest = urls["application/x-suggestions+json"]
    assert suggest.startswith(PUBLIC_URL) and "{searchTerms}" in suggest
    assert len(root.findtext("os:ShortName", namespaces=ns) or "") <= 16  # the specification's limit

    # the search page answers the template with the terms filled in (here at the test server's address)
    assert http.get("/", params={"q": "thư viện"}).status_code == 200
    title = _pick(catalogue, "HUE").record.title or ""
    word = title.split()[0]
    answer = http.get("/opensearch/suggestions", params={"q": word})
    assert answer.headers["content-type"].startswith("application/x-suggestions+json")
    query, completions = answer.json()
    assert query == word and completions and all(isinstance(c, str) for c in completions)

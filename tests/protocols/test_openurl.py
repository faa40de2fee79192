"""``GET /openurl``: a link resolver's citation (OpenURL 1.0 KEV, or 0.1) answered with the works of
the union catalogue and the members holding them, as a page or as JSON; never another edition."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import httpx
import pytest
from lxml import html

from schemas.settings import Settings
from schemas.text import folded_text
from store.records import StoredRecord

from .lookup_support import Catalogue, catalogue_of, isbn10

KEV = {"url_ver": "Z39.88-2004", "ctx_ver": "Z39.88-2004", "rft_val_fmt": "info:ofi/fmt:kev:mtx:book"}
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def http(lienhop_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lienhop_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def known(catalogue: Settings) -> Catalogue:
    return catalogue_of(catalogue)


def _members(answer: dict) -> set[str]:
    return {h["code"] for work in answer["works"] for h in work["holdings"]}


def _editions(known: Catalogue) -> list[StoredRecord]:
    """Records of a title that two works carry with different years (two editions), one per year."""
    by_title: dict[str, dict[int, StoredRecord]] = defaultdict(dict)
    for row in known.live:
        record = row.record
        if record.title and record.year and record.authors and not record.subtitle:
            by_title[folded_text(record.title)].setdefault(record.year, row)
    return next(list(years.values()) for years in by_title.values() if len(years) > 1)


def test_an_isbn_citation_names_every_holder_in_json(http: httpx.Client, known: Catalogue) -> None:
    shared = known.shared("isbn")[0]

    response = http.get("/openurl", params={**KEV, "rft.isbn": isbn10(shared)}, headers=JSON)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["resolved_by"] == "isbn" and answer["citation"]["isbn"] == [shared]
    assert _members(answer) == known.holders["isbn", shared]
    assert all(r["opac_url"] for w in answer["works"] for h in w["holdings"] for r in h["records"])


@pytest.mark.parametrize(
    "style",
    ["kev-issn", "kev-doi", "kev-doi-link", "v01-isbn", "v01-doi"],
)
def test_each_identifier_form_resolves(http: httpx.Client, known: Catalogue, style: str) -> None:
    doi, issn, isbn = known.held("doi")[0], known.held("issn")[0], known.held("isbn")[0]
    params, kind, value = {
        "kev-issn": ({**KEV, "rft.issn": issn}, "issn", issn),
        "kev-doi": ({**KEV, "rft_id": f"info:doi/{doi}"}, "doi", doi),
        "kev-doi-link": ({**KEV, "rft_id": f"https://doi.org/{doi.upper()}"}, "doi", doi),
        "v01-isbn": ({"isbn": isbn, "sid": "demo"}, "isbn", isbn),
        "v01-doi": ({"id": f"doi:{doi}", "genre": "article"}, "doi", doi),
    }[style]

    answer = http.get("/openurl", params=params, headers=JSON).json()

    assert answer["resolved_by"] == kind
    assert _members(answer) == known.holders[kind, value]


def test_a_title_citation_finds_its_own_edition_only(http: httpx.Client, known: Catalogue) -> None:
    first, second = _editions(known)[:2]
    assert first.record.title is not None and first.record.year != second.record.year

    def cite(row: StoredRecord, **extra: str) -> dict:
        params = {
            **KEV,
            "rft.btitle": row.record.title or "",
            "rft.date": f"{row.record.year}-01-01",
            **extra,
        }
        return http.get("/openurl", params=params, headers=JSON).json()

    for row in (first, second):
        answer = cite(row, **{"rft.au": row.record.authors[0]})
        assert answer["resolved_by"] == "title"
        ids = {r["record_id"] for w in answer["works"] for h in w["holdings"] for r in h["records"]}
        assert row.id in ids
        years = {known_row.record.year for known_row in known.live if known_row.id in ids}
        assert years == {row.record.year}, "a citation of one edition listed another"
    elsewhere = cite(first, **{"rft.date": "1801"})
    assert elsewhere["works"] == [] and elsewhere["resolved_by"] is None
    stranger = cite(first, **{"rft.aulast": "Zzyzx"})
    assert stranger["works"] == []


def test_a_title_without_its_subtitle_still_resolves(http: httpx.Client, known: Catalogue) -> None:
    row = next(r for r in known.live if r.record.subtitle and r.record.year)

    answer = http.get(
        "/openurl", params={"title": row.record.title, "date": str(row.record.year)}, headers=JSON
    ).json()

    assert any(r["record_id"] == row.id for w in answer["works"] for h in w["holdings"] for r in h["records"])


def test_a_title_cited_without_what_follows_its_colon_resolves(http: httpx.Client, known: Catalogue) -> None:
    row = next(r for r in known.live if r.record.title and " : " in r.record.title and r.record.year)
    cited = (row.record.title or "").rsplit(" : ", 1)[0]

    answer = http.get(
        "/openurl", params={**KEV, "rft.btitle": cited, "rft.date": str(row.record.year)}, headers=JSON
    )

    assert any(
        r["record_id"] == row.id for w in answer.json()["works"] for h in w["holdings"] for r in h["records"]
    )


def test_an_invalid_isbn_is_set_aside_and_the_title_resolves(http: httpx.Client, known: Catalogue) -> None:
    row = _editions(known)[0]

    answer = http.get(
        "/openurl",
        params={**KEV, "rft.isbn": "123", "rft.btitle": row.record.title, "rft.date": str(row.record.year)},
        headers=JSON,
    ).json()

    assert answer["resolved_by"] == "title" and answer["works"]
    assert any("123" in warning for warning in answer["citation"]["warnings"])


def test_the_page_lists_holders_with_their_opac_links(http: httpx.Client, known: Catalogue) -> None:
    shared = known.shared("isbn")[0]

    page = http.get("/openurl", params={**KEV, "rft.isbn": shared, "lang": "en"})

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    tree = html.fromstring(page.text)
    assert tree.findtext(".//h1") == "Who holds this item"
    links = [a.get("href") for a in tree.iter("a")]
    assert sum(1 for href in links if href and href.startswith("http://opac.")) >= len(
        known.holders["isbn", shared]
    )
    vietnamese = http.get("/openurl", params={**KEV, "rft.isbn": shared, "lang": "vi"}).text
    assert "Thư viện nào có tài liệu này" in vietnamese
    nothing = http.get("/openurl", params={**KEV, "rft.btitle": "Zzyzx qwerty", "lang": "en"})
    assert (
        nothing.status_code == 200 and "No member library of the consortium holds this item." in nothing.text
    )


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({}, "nothing to resolve"),
        ({"rft.isbn": "123"}, "123"),
        ({"url_ver": "Z39.88-2003", "rft.isbn": "9786049086410"}, "url_ver"),
        ({"rft.btitle": "x" * 1001}, "longer than"),
    ],
)
def test_a_citation_that_cannot_be_resolved_is_a_problem(
    http: httpx.Client, params: dict, needle: str
) -> None:
    response = http.get("/openurl", params=params, headers=JSON)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert needle in response.json()["detail"]


def test_the_openapi_document_says_both_media_types(http: httpx.Client) -> None:
    operation = http.get("/openapi.json").json()["paths"]["/openurl"]["get"]

    assert {"text/html", "application/json"} <= set(operation["responses"]["200"]["content"])
    assert "rft.isbn" in {p["name"] for p in operation["parameters"]}

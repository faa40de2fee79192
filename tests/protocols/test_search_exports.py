"""``GET /search?format=``: a result page's works in each export format, by ``?format=`` and by
``Accept``, read back by the libraries reference managers and library systems use: one entry per hit
of the JSON page with the same parameters, in its order, MARC with a location (852) per holder."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator
from typing import Any

import httpx
import lxml.html
import pymarc
import pytest

from .export_readers import READ_ALL
from .test_exports import MEDIA

#: A page in the middle of a sorted, filtered search: what the export must reproduce exactly
PAGE = {"q": "thu vien", "sort": "year_desc", "size": 7, "page": 2}


@pytest.fixture(scope="module")
def http(lienhop_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lienhop_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def page(http: httpx.Client) -> dict[str, Any]:
    """The JSON page the exports are compared with."""
    response = http.get("/search", params=PAGE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["hits"]) == PAGE["size"] and body["total"] > 2 * PAGE["size"]
    return body


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@pytest.mark.parametrize(
    ("format", "by"),
    # Dublin Core has no media type of its own to ask for: ?format=dc only
    [(f, "query") for f in MEDIA] + [(f, "accept") for f in MEDIA if f != "dc"],
)
def test_each_format_has_one_entry_per_hit_in_order(
    http: httpx.Client, page: dict[str, Any], format: str, by: str
) -> None:
    if by == "query":
        response = http.get("/search", params={**PAGE, "format": format})
    else:
        response = http.get("/search", params=PAGE, headers={"Accept": MEDIA[format]})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == MEDIA[format]
    backs = READ_ALL[format](response.content)
    assert len(backs) == len(page["hits"])
    for back, hit in zip(backs, page["hits"], strict=True):
        assert _nfc(back.title).startswith((hit["title"] or "")[:10]), (back.title, hit["title"])
        if hit["year"] is not None:
            assert back.year is not None and str(hit["year"]) in back.year


@pytest.mark.parametrize("format", ["marcxml", "marc"])
def test_marc_has_a_location_per_holder_of_each_work(
    http: httpx.Client, page: dict[str, Any], format: str
) -> None:
    response = http.get("/search", params={**PAGE, "format": format})

    if format == "marcxml":
        records = pymarc.parse_xml_to_array(io.BytesIO(response.content))
    else:
        records = list(pymarc.MARCReader(response.content, to_unicode=True, force_utf8=True))
    assert len(records) == len(page["hits"])
    for marc, hit in zip(records, page["hits"], strict=True):
        locations = {(f.get("a"), f.get("u")) for f in marc.get_fields("852")}
        assert locations == {(h["code"], r["opac_url"]) for h in hit["holdings"] for r in h["records"]}


def test_filters_and_cursor_paging_are_those_of_the_json_page(http: httpx.Client) -> None:
    asked = {"q": "thu vien", "member": "HUE", "size": 5}
    first = http.get("/search", params=asked).json()
    exported = http.get("/search", params={**asked, "format": "ris"})
    assert [b.title[:10] for b in READ_ALL["ris"](exported.content)] == [
        (h["title"] or "")[:10] for h in first["hits"]
    ]
    # the export says where the next page's export is, by the JSON page's own cursor
    link = exported.headers["link"]
    assert link.endswith('>; rel="next"') and "format=ris" in link and "member=HUE" in link
    following = http.get(link[1 : link.index(">")])
    second = http.get("/search", params={**asked, "cursor": first["next_cursor"]}).json()
    assert [b.title[:10] for b in READ_ALL["ris"](following.content)] == [
        (h["title"] or "")[:10] for h in second["hits"]
    ]
    assert {h["work_id"] for h in second["hits"]}.isdisjoint(h["work_id"] for h in first["hits"])


def test_size_stays_bounded_and_an_empty_page_is_an_empty_export(http: httpx.Client) -> None:
    everything = {"year_from": 1000, "size": 1000}
    assert http.get("/search", params=everything).json()["total"] > 100
    big = http.get("/search", params={**everything, "format": "csl-json"})
    assert big.status_code == 200 and len(big.json()) == 100  # LIENHOP_SEARCH_MAX_SIZE, as the JSON
    none = http.get("/search", params={"q": "zzzqqqxxx", "correct": "false", "format": "marcxml"})
    assert none.status_code == 200 and pymarc.parse_xml_to_array(io.BytesIO(none.content)) == []
    assert http.get("/search", params={"q": "zzzqqqxxx", "format": "bibtex"}).content == b""


def test_json_stays_the_default_and_a_bad_format_is_a_problem(http: httpx.Client, page: dict) -> None:
    for headers in ({}, {"Accept": "application/json"}, {"Accept": "text/html,*/*;q=0.8"}):
        answer = http.get("/search", params=PAGE, headers=headers)
        assert answer.headers["content-type"] == "application/json"
        assert [h["work_id"] for h in answer.json()["hits"]] == [h["work_id"] for h in page["hits"]]
    bad = http.get("/search", params={**PAGE, "format": "mods"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert "marcxml" in bad.json()["detail"]
    malformed = http.get("/search", params={"q": '"open', "format": "ris"})
    assert malformed.status_code == 400 and malformed.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("lang", "label"), [("vi", "Xuất kết quả của trang này"), ("en", "Export the results")]
)
def test_the_search_page_links_the_export_of_the_page_shown(
    http: httpx.Client, lang: str, label: str
) -> None:
    shown = http.get("/", params={"q": "thu vien", "type": "book", "page": 2, "lang": lang})
    assert shown.status_code == 200
    html = lxml.html.fromstring(shown.text)
    hits = html.xpath("//ol[@class='hits']/li")
    (exports,) = html.xpath("//p[contains(@class, 'exports')]")
    assert label in exports.text_content()
    links = {a.text_content(): a.get("href") for a in exports.iter("a")}
    assert set(links) == {"RIS", "BibTeX", "MARCXML", "CSL-JSON"}

    for name, format in (
        ("RIS", "ris"),
        ("BibTeX", "bibtex"),
        ("MARCXML", "marcxml"),
        ("CSL-JSON", "csl-json"),
    ):
        exported = http.get(links[name])
        assert exported.status_code == 200, exported.text
        backs = READ_ALL[format](exported.content)
        assert len(backs) == len(hits) > 0
        # the page shown, not the first: its first hit is the export's first entry
        assert _nfc(backs[0].title)[:10] in _nfc(hits[0].text_content())

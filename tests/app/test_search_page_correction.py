"""The search page tells when it corrected a slip: "Kết quả cho: …" with a link to search exactly as
typed, which then stays exact on the page's own links. No browser needed: the HTML as served."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lxml import html

pytestmark = pytest.mark.asyncio

SLIPPED = "nong ngheip"  # two letters swapped in "nông nghiệp"


async def _page(client: httpx.AsyncClient, **params: str) -> html.HtmlElement:
    response = await client.get("/", params=params, headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    return html.fromstring(response.text)


def _query(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query)


def _text(element: html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


async def test_corrected_search_says_so_and_links_to_the_words_as_typed(client: httpx.AsyncClient) -> None:
    page = await _page(client, q=SLIPPED)
    [banner] = page.xpath('//*[@id="corrected"]')
    assert banner.get("role") == "status"
    assert _text(banner).startswith("Kết quả cho: nông nghiệp")
    [link] = banner.xpath(".//a")
    assert _text(link) == f"Tìm đúng như đã gõ: {SLIPPED}"
    assert _query(link.get("href")) == {"q": [SLIPPED], "correct": ["false"]}
    assert not page.xpath('//*[@id="suggestion"]')  # no "did you mean" on top of a correction
    assert page.xpath("//ol[@class='hits']/li")  # and the corrected words found something

    english = await _page(client, q=SLIPPED, lang="en")
    [banner] = english.xpath('//*[@id="corrected"]')
    assert _text(banner).startswith("Showing results for: nông nghiệp")
    assert banner.xpath(".//strong")[0].get("lang") == "vi"  # Vietnamese words in an English page
    assert _text(banner.xpath(".//a")[0]) == f"Search instead for: {SLIPPED}"


async def test_as_typed_page_does_not_correct_and_keeps_it_on_its_own_links(
    client: httpx.AsyncClient,
) -> None:
    page = await _page(client, q=SLIPPED, correct="false")
    assert not page.xpath('//*[@id="corrected"]')
    [offer] = page.xpath('//*[@id="suggestion"]')
    assert _text(offer) == "Có phải bạn muốn tìm: nông nghiệp"
    # the suggestion is new words: searched with correction again
    assert _query(offer.xpath(".//a")[0].get("href")) == {"q": ["nông nghiệp"]}

    # a broader exact search with enough hits for facets, sort, and pages
    page = await _page(client, q="thu vien", correct="false")
    facet_links = page.xpath("//section[contains(@class, 'facets')]//a/@href")
    assert facet_links and all(_query(href)["correct"] == ["false"] for href in facet_links)
    pager = page.xpath("//nav[contains(@class, 'pager')]//a/@href")
    assert pager and all(_query(href)["correct"] == ["false"] for href in pager)
    for form in page.xpath("//form[@action='/'][.//select[@name='sort'] or .//input[@name='year_from']]"):
        assert form.xpath(".//input[@name='correct']/@value") == ["false"]
    # a new search from the box corrects again: the box's form does not carry correct=false
    box = page.xpath("//form[@role='search']")[0]
    assert not box.xpath(".//input[@name='correct']")
    # with a filter chosen, its chip and "clear all" keep it too
    filtered = await _page(client, q="thu vien", correct="false", type="book")
    chips = filtered.xpath("//ul[@class='chips']//a/@href")
    assert len(chips) == 2 and all(_query(href)["correct"] == ["false"] for href in chips)


async def test_the_search_box_offers_completions_only_with_its_script(client: httpx.AsyncClient) -> None:
    page = await _page(client)
    [box] = page.xpath("//input[@id='q']")
    # no combobox role in the HTML: without the script the box is a plain search field
    assert box.get("role") is None and box.get("data-autocomplete") == "/autocomplete"
    assert box.get("data-listbox-label") == "Gợi ý"
    assert page.xpath("//script[@src='/static/autocomplete.js']")
    script = await client.get("/static/autocomplete.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    english = await _page(client, lang="en")
    assert english.xpath("//input[@id='q']/@data-listbox-label") == ["Suggestions"]

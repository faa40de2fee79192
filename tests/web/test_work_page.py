"""A work's page in a real browser: every member holding it, each with its way into that member's
OPAC, the records joined into the work and why, the structured data a shared link shows, in both
languages and at phone widths."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from app.demo.generator import shared_works
from app.demo.members import BY_CODE

from .conftest import Site, assert_accessible, no_sideways_scroll, screenshot

pytestmark = pytest.mark.browser

SHARED = shared_works()[0]  # a book held by five members (TVU links into its OPAC by ISBN)


def _work_path(page: Page, site: Site) -> str:
    """The work page's path, reached as a researcher does: the search result's title."""
    page.goto(f"{site.url}/?q=isbn:{SHARED.isbn13}")
    title = page.locator("ol.hits > li h3 a").first
    title.click()
    page.wait_for_url(re.compile(r"/work/"))
    return urlsplit(page.url).path


def test_work_page_lists_every_holder_and_why_each_record_joined(page: Page, site: Site) -> None:
    path = _work_path(page, site)
    expect(page.get_by_role("heading", level=1)).to_contain_text(SHARED.title)

    holdings = page.locator("section.holdings")
    expect(holdings.get_by_role("heading", level=2)).to_have_text(f"Có tại {len(SHARED.holders)} thư viện")
    items = holdings.locator("li")
    expect(items).to_have_count(len(SHARED.holders))
    shown = items.all_inner_texts()
    for code in SHARED.holders:
        name = BY_CODE[code].name_vi
        assert any(text.startswith(name) for text in shown), f"{name} is not listed: {shown}"
        # each holder's link names the library it leads into, for a screen reader's list of links
        link = holdings.get_by_role("link", name=f"xem trong mục lục của thư viện – {name}", exact=True)
        expect(link).to_have_attribute("href", re.compile(r"^/go/"))

    records = page.locator("section.work-records li")
    expect(records).to_have_count(len(SHARED.holders))  # one record per holder
    reasons = records.locator(".why").all_inner_texts()
    # every record but the one the work starts from says why it joined, in words
    assert reasons == [f"gộp vì cùng ISBN {SHARED.isbn13}"] * (len(SHARED.holders) - 1)

    data = json.loads(page.locator("script[type='application/ld+json']").inner_text())
    assert data["@type"] == "Book" and data["isbn"] == SHARED.isbn13
    assert sorted(offer["offeredBy"]["name"] for offer in data["offers"]) == sorted(
        BY_CODE[code].name_vi for code in SHARED.holders
    )
    assert page.locator("link[rel=canonical]").get_attribute("href") == site.url + path
    assert_accessible(page)
    screenshot(page, "work-1280")

    # a holding followed: counted by /go/, then in that member's own catalogue, on this very book
    tvu = BY_CODE["TVU"].name_vi
    holdings.get_by_role("link", name=f"xem trong mục lục của thư viện – {tvu}", exact=True).click()
    page.wait_for_url(re.compile(r"^http://opac\.tvu\.example\.vn/"))
    assert parse_qs(urlsplit(page.url).query) == {"isbn": [SHARED.isbn13]}


def test_work_page_in_english(page: Page, site: Site) -> None:
    path = _work_path(page, site)
    page.goto(f"{site.url}{path}?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    holdings = page.locator("section.holdings")
    expect(holdings.get_by_role("heading", level=2)).to_have_text(f"Held by {len(SHARED.holders)} libraries")
    shown = holdings.locator("li").all_inner_texts()
    for code in SHARED.holders:
        name = BY_CODE[code].name_en
        assert any(text.startswith(name) for text in shown), f"{name} is not listed: {shown}"
        link = holdings.get_by_role("link", name=f"see it in the library's catalogue – {name}", exact=True)
        expect(link).to_have_attribute("href", re.compile(r"^/go/"))
    reasons = page.locator("section.work-records .why").all_inner_texts()
    assert reasons and all(r == f"joined by the same ISBN {SHARED.isbn13}" for r in reasons)
    expect(page.locator("h1")).to_have_attribute("lang", "vi")  # a Vietnamese title in an English page
    assert_accessible(page)
    page.goto(site.url + "/?lang=vi")


def test_work_page_fits_a_phone(context: BrowserContext, site: Site) -> None:
    page = context.new_page()
    path = _work_path(page, site)
    for width in (320, 390, 768):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(site.url + path)
        scroll, viewport = no_sideways_scroll(page)
        assert scroll <= viewport, f"{path} is {scroll} px wide at {width} px"
        if width == 390:
            expect(page.locator("section.holdings li").first).to_be_visible()
            screenshot(page, "work-390")

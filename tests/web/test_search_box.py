"""The search box in a real browser: a slipped query is corrected and says so, with a way back to the
words as typed; completions as the researcher types, chosen with the keyboard alone or the mouse."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Page, Route, expect

from search.analysis import folded_text

from .conftest import Site, assert_accessible, no_sideways_scroll, screenshot

pytestmark = pytest.mark.browser

SLIPPED = "nong ngheip"  # "nông nghiệp" with two letters swapped, as typed on a phone
BOX = "Sách, luận văn, bài báo…"


def _query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _total(page: Page) -> int:
    return int(re.sub(r"\D", "", page.locator("#results-h").inner_text()))


def test_a_slipped_query_is_corrected_and_says_so(page: Page, site: Site) -> None:
    page.goto(site.url + "/")
    page.get_by_label(BOX).fill(SLIPPED)
    page.get_by_label(BOX).press("Enter")
    page.wait_for_url(re.compile(r"q=nong"))
    banner = page.get_by_role("status").filter(has_text="Kết quả cho:")
    expect(banner).to_contain_text("Kết quả cho: nông nghiệp")
    titles = page.locator("ol.hits > li h3").all_inner_texts()
    assert titles and "nong nghiep" in folded_text(titles[0])  # the corrected words found their records
    corrected_total = _total(page)
    assert_accessible(page)
    screenshot(page, "search-corrected-1280")

    # the words exactly as typed: no correction there, and the correction offered instead
    page.get_by_role("link", name=f"Tìm đúng như đã gõ: {SLIPPED}").click()
    page.wait_for_load_state()
    assert _query(page) == {"q": [SLIPPED], "correct": ["false"]}
    expect(page.get_by_text("Kết quả cho:")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_contain_text(SLIPPED)
    offer = page.get_by_role("status").filter(has_text="Có phải bạn muốn tìm:")
    expect(offer.get_by_role("link", name="nông nghiệp")).to_be_visible()
    assert _total(page) < corrected_total
    assert_accessible(page)

    # the same in English, the Vietnamese words marked as such
    page.goto(f"{site.url}/?q={SLIPPED}&lang=en")
    banner = page.get_by_role("status").filter(has_text="Showing results for:")
    expect(banner).to_contain_text("Showing results for: nông nghiệp")
    expect(banner.locator("strong")).to_have_attribute("lang", "vi")
    expect(banner.get_by_role("link", name=f"Search instead for: {SLIPPED}")).to_be_visible()
    assert_accessible(page)
    page.goto(site.url + "/?lang=vi")


def test_the_as_typed_choice_stays_on_the_pages_own_links(page: Page, site: Site) -> None:
    page.goto(site.url + "/?q=thu+vien&correct=false")
    page.get_by_role("link", name="Trang sau »").click()
    page.wait_for_load_state()
    assert _query(page)["correct"] == ["false"] and _query(page)["page"] == ["2"]
    page.get_by_label("Sắp xếp theo").select_option("year_desc")
    page.get_by_role("button", name="Sắp xếp", exact=True).click()
    page.wait_for_load_state()
    assert _query(page)["correct"] == ["false"] and _query(page)["sort"] == ["year_desc"]
    page.locator(".facets").get_by_role("link", name="Sách", exact=True).click()
    page.wait_for_load_state()
    assert _query(page)["correct"] == ["false"] and _query(page)["type"] == ["book"]
    # new words from the box are corrected again; the filters stay
    page.get_by_label(BOX).fill(SLIPPED)
    page.get_by_label(BOX).press("Enter")
    page.wait_for_load_state()
    assert "correct" not in _query(page) and _query(page)["type"] == ["book"]


def test_completions_chosen_with_the_keyboard_alone(page: Page, site: Site) -> None:
    page.goto(site.url + "/")
    box = page.get_by_role("combobox", name=BOX)
    expect(box).to_have_attribute("aria-expanded", "false")
    box.focus()
    page.keyboard.type("nong", delay=60)
    listbox = page.get_by_role("listbox", name="Gợi ý")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(box).to_have_attribute("aria-controls", str(listbox.get_attribute("id")))
    options = listbox.get_by_role("option")
    texts = options.all_inner_texts()
    assert texts and all("nong" in folded_text(t) for t in texts), texts
    assert any("nông" in t.lower() for t in texts), texts  # shown with their diacritics
    expect(page.get_by_role("status").filter(has_text="Số gợi ý:")).to_have_text(f"Số gợi ý: {len(texts)}")

    page.keyboard.press("ArrowDown")
    first = options.first
    expect(first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", str(first.get_attribute("id")))
    expect(box).to_be_focused()  # the focus stays in the box; the option is only pointed at
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    expect(first).to_have_attribute("aria-selected", "true")
    assert_accessible(page)  # with the listbox open
    screenshot(page, "search-autocomplete-1280")

    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q="))
    assert _query(page)["q"] == [texts[0]]
    expect(page.get_by_role("heading", level=1)).to_contain_text(texts[0])
    expect(page.locator("ol.hits > li").first).to_be_visible()


def test_escape_closes_and_a_click_picks(page: Page, site: Site) -> None:
    page.goto(site.url + "/?lang=en")
    box = page.get_by_role("combobox", name="Books, theses, articles…")
    box.press_sequentially("nong", delay=60)
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(listbox).to_be_visible()
    # a Vietnamese completion in an English page is marked as Vietnamese
    expect(listbox.locator("[role=option][lang=vi]").first).to_be_attached()
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("nong")  # Escape closes the popup, the words stay
    box.press("ArrowDown")  # opens it again
    expect(listbox).to_be_visible()
    second = listbox.get_by_role("option").nth(1)
    picked = second.inner_text()
    second.click()
    page.wait_for_url(re.compile(r"q="))
    assert _query(page)["q"] == [picked]
    page.goto(site.url + "/?lang=vi")


def test_an_older_answer_never_replaces_a_newer_one(page: Page, site: Site) -> None:
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if parse_qs(urlsplit(route.request.url).query)["q"] == ["nong"] and not held:
            held.append(route)  # answered only after the newer request has been answered
        else:
            route.continue_()

    page.route(re.compile(r"/autocomplete\?"), hold_the_first)
    page.goto(site.url + "/")
    box = page.get_by_role("combobox", name=BOX)
    box.press_sequentially("nong", delay=30)
    for _ in range(50):  # the pause in typing sends the request for "nong", which is held
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "no completion was asked for"
    box.press_sequentially(" ngh", delay=30)
    listbox = page.get_by_role("listbox", name="Gợi ý")
    expect(listbox).to_be_visible()
    newer = listbox.get_by_role("option").all_inner_texts()
    assert newer and all("nong ngh" in folded_text(t) for t in newer), newer
    with contextlib.suppress(Error):  # the page may have given up on it already: just as good
        held[0].continue_()  # the late answer to "nong" arrives now
    page.wait_for_timeout(400)
    assert listbox.get_by_role("option").all_inner_texts() == newer


def test_completions_fit_a_phone(context: BrowserContext, site: Site) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.url + "/")
    page.get_by_role("combobox", name=BOX).press_sequentially("nong", delay=60)
    listbox = page.get_by_role("listbox", name="Gợi ý")
    expect(listbox).to_be_visible()
    box = listbox.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    scroll, viewport = no_sideways_scroll(page)
    assert scroll <= viewport
    screenshot(page, "search-autocomplete-390")
    listbox.get_by_role("option").first.click()
    page.wait_for_url(re.compile(r"q="))
    expect(page.locator("ol.hits > li").first).to_be_visible()


def test_the_box_is_a_plain_search_field_without_javascript(browser: Browser, site: Site) -> None:
    context = browser.new_context(java_script_enabled=False, locale="vi-VN")
    try:
        page = context.new_page()
        page.goto(site.url + "/")
        expect(page.get_by_role("combobox")).to_have_count(0)  # no popup is promised
        box = page.get_by_role("searchbox", name=BOX)
        box.fill(SLIPPED)
        box.press("Enter")
        page.wait_for_url(re.compile(r"q=nong"))
        expect(page.get_by_role("status").filter(has_text="Kết quả cho:")).to_contain_text("nông nghiệp")
    finally:
        context.close()

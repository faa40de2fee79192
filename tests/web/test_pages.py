"""The researcher's pages in a real browser: search, filter and clear, page, sort, switch language,
open a record and follow a holding, at desktop and phone widths, in both languages."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from app.demo.generator import shared_works

from .conftest import Site, assert_accessible, no_sideways_scroll, screenshot

pytestmark = pytest.mark.browser

SHARED = shared_works()[0]  # held by five members


def _query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _search(page: Page, site: Site, words: str) -> None:
    page.goto(site.url + "/")
    page.get_by_label("Sách, luận văn, bài báo…").fill(words)
    page.get_by_role("button", name="Tìm kiếm", exact=True).click()
    page.wait_for_load_state()


def test_search_filter_clear_page_and_sort(page: Page, site: Site) -> None:
    _search(page, site, "thu vien")
    assert "thu vien" in page.title()
    expect(page.get_by_role("heading", level=1)).to_contain_text("thu vien")
    hits = page.locator("ol.hits > li")
    expect(hits.first.get_by_role("heading", level=3)).to_be_visible()
    assert hits.count() == 10
    total = int(re.sub(r"\D", "", page.locator("#results-h").inner_text()))
    assert total > 20
    expect(page.locator("#shown")).to_have_text(f"Đang xem 1–10 trong {total}")

    # facet names and values are words, not codes
    facets = page.locator(".facets")
    expect(facets.get_by_role("heading", name="Loại tài liệu")).to_be_visible()
    facets.get_by_role("link", name="Sách", exact=True).click()
    chosen = facets.get_by_role("link", name="Sách", exact=True)
    expect(chosen).to_have_attribute("aria-current", "true")
    expect(page.locator(".chips")).to_contain_text("Loại tài liệu: Sách")
    assert all("Sách" in meta for meta in page.locator(".hit .meta").all_inner_texts())

    # every member is reachable: those past the first few sit behind "more"
    more = facets.locator("details").filter(has_text="Thư viện").first
    more.locator("summary").click()
    extra = more.get_by_role("link").first
    extra_name = extra.inner_text()
    extra.click()
    expect(page.locator(".chips a")).to_have_count(3)  # type, member, and "clear all"
    assert extra_name in page.locator(".chips").inner_text()

    # a new search keeps the chosen filters, type included
    page.get_by_label("Sách, luận văn, bài báo…").fill("nong nghiep")
    page.get_by_role("button", name="Tìm kiếm", exact=True).click()
    page.wait_for_load_state()
    assert _query(page)["type"] == ["book"] and len(_query(page)["member"]) == 1
    expect(page.locator(".chips")).to_contain_text("Loại tài liệu: Sách")

    # removing one chip keeps the other; "Xoá tất cả" removes every filter but keeps the words
    page.get_by_role("link", name=re.compile("^Bỏ bộ lọc Loại tài liệu")).click()
    assert "type" not in _query(page) and "member" in _query(page)
    page.get_by_role("link", name="Xoá tất cả").click()
    assert _query(page) == {"q": ["nong nghiep"]}
    expect(page.locator(".chips")).to_have_count(0)

    # paging forwards and back, then sorting newest first
    _search(page, site, "thu vien")
    page.get_by_role("link", name="Trang sau »").click()
    expect(page.locator(".pager")).to_contain_text("Trang 2 /")
    expect(page.locator("#shown")).to_contain_text("Đang xem 11–20")
    page.get_by_role("link", name="« Trang trước").click()
    expect(page.locator("#shown")).to_contain_text("Đang xem 1–10")
    page.get_by_label("Sắp xếp theo").select_option("year_desc")
    page.get_by_role("button", name="Sắp xếp", exact=True).click()
    page.wait_for_load_state()
    years = [
        int(y) for y in re.findall(r"· (\d{4}) ·", " ".join(page.locator(".hit .meta").all_inner_texts()))
    ]
    assert years and years == sorted(years, reverse=True)

    # a year range narrows to those years and shows as one chip
    page.get_by_label("Từ năm").fill("2010")
    page.get_by_label("Đến năm").fill("2015")
    page.get_by_role("button", name="Áp dụng").click()
    page.wait_for_load_state()
    expect(page.locator(".chips")).to_contain_text("Năm: 2010–2015")
    assert _query(page)["sort"] == ["year_desc"]  # the sort order stays
    shown = [
        int(y) for y in re.findall(r"· (\d{4}) ·", " ".join(page.locator(".hit .meta").all_inner_texts()))
    ]
    assert shown and all(2010 <= y <= 2015 for y in shown)
    screenshot(page, "search-1280")
    assert_accessible(page)


def test_phone_layout_folds_the_filters(context: BrowserContext, site: Site) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site.url + "/?q=thu+vien&type=book")
    panel = page.locator("details.filters-panel")
    expect(panel).not_to_have_attribute("open", "")
    expect(page.locator("ol.hits > li").first).to_be_in_viewport()  # results come first on a phone
    screenshot(page, "search-390")
    summary = panel.locator("summary").first
    summary.focus()
    page.keyboard.press("Enter")  # the panel opens from the keyboard too
    expect(page.locator(".facets").get_by_role("heading", name="Thư viện")).to_be_visible()
    width, viewport = no_sideways_scroll(page)
    assert width <= viewport
    screenshot(page, "search-390-filters")
    assert_accessible(page)


def test_language_switch_is_remembered(page: Page, site: Site) -> None:
    page.goto(site.url + "/?q=thu+vien")
    alternates = page.locator("link[rel=alternate][hreflang]")
    assert sorted(alternates.evaluate_all("ls => ls.map(l => l.hreflang)")) == ["en", "vi", "x-default"]
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search results for “thu vien”")
    expect(page.locator(".facets").get_by_role("heading", name="Type")).to_be_visible()
    expect(page.locator(".facets").get_by_role("link", name="Book", exact=True)).to_be_visible()
    # the cookie keeps English on the next page, without ?lang=
    page.goto(site.url + "/status")
    expect(page.get_by_role("heading", level=1)).to_have_text("Harvest status")
    assert "Tình trạng" not in page.locator("main").inner_text()
    # the demo members are harvested by hand (a schedule would re-harvest loopback, which is refused)
    expect(page.locator("td").filter(has_text="Manual").first).to_be_visible()
    assert_accessible(page)
    page.goto(site.url + "/?lang=vi")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    page.goto(site.url + "/status")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tình trạng thu thập")
    expect(page.locator("td").filter(has_text="Thủ công").first).to_be_visible()


def test_record_page_and_following_a_holding(page: Page, site: Site) -> None:
    page.goto(site.url + "/?q=isbn:" + SHARED.isbn13)
    first = page.locator("ol.hits > li h3 a").first
    title = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title.split(":")[0])
    assert title.split(":")[0] in page.title()
    holders = page.locator(".holdings li")
    assert holders.count() == len(SHARED.holders)
    data = json.loads(page.locator("script[type='application/ld+json']").inner_text())
    assert data["@type"] == "Book" and data["isbn"] == SHARED.isbn13
    assert len(data["offers"]) == len(SHARED.holders)
    assert page.locator("meta[property='og:title']").get_attribute("content") == data["name"]
    assert page.locator("link[rel=canonical]").get_attribute("href", timeout=1000)
    assert_accessible(page)
    screenshot(page, "record-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "record-390")
    link = page.locator(".holdings a[href^='/go/']").first  # counted, then redirected to the OPAC
    link.click()
    page.wait_for_url(re.compile(r"^http://opac\."))
    assert urlsplit(page.url).hostname.endswith(".example.vn")  # type: ignore[union-attr]


def test_english_titles_are_marked_in_a_vietnamese_page(page: Page, site: Site) -> None:
    page.goto(site.url + "/?q=theory+practice&lang=vi")
    marked = page.locator("ol.hits h3 a[lang=en]")
    assert marked.count() > 0
    page.goto(site.url + "/?q=theory+practice&lang=en")
    assert page.locator("ol.hits h3 a[lang=en]").count() == 0
    page.goto(site.url + "/?lang=vi")


def test_errors_are_pages_in_the_page_language(page: Page, site: Site) -> None:
    response = page.goto(site.url + '/?q="open')
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_have_text(
        "Câu truy vấn không hợp lệ: thiếu dấu ngoặc kép đóng (ở ký tự thứ 1)"
    )
    response = page.goto(site.url + "/?q=x&page=abc")
    assert response is not None and response.status == 422
    assert "text/html" in response.headers["content-type"]
    expect(page.get_by_role("heading", level=1)).to_have_text("Tham số không hợp lệ")
    assert_accessible(page)
    response = page.goto(site.url + "/record/no-such-record?lang=en")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    response = page.goto(site.url + "/?q=thu+vien&n=99&lang=vi")
    assert response is not None and response.status == 404
    expect(page.locator(".notice")).to_contain_text("Kết quả này không có trang 99.")
    page.get_by_role("link", name=re.compile("Đến trang cuối")).click()
    expect(page.locator("ol.hits > li").first).to_be_visible()


@pytest.mark.parametrize("width", [320, 390, 768])
def test_nothing_scrolls_sideways(context: BrowserContext, site: Site, width: int) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(site.url + "/?q=isbn:" + SHARED.isbn13)
    record = page.locator("ol.hits h3 a").first.get_attribute("href")
    for path in ("/", "/?q=thu+vien&type=book", record, "/status", "/status/NASATI", "/record/nope",
                 "/widget/search?member=HUE&q=thu+vien"):  # fmt: skip
        page.goto(site.url + str(path))
        scroll, viewport = no_sideways_scroll(page)
        assert scroll <= viewport, f"{path} is {scroll} px wide at {width} px"
    if width == 390:
        page.goto(site.url + "/status")
        screenshot(page, "status-390")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_page_passes_axe(page: Page, site: Site, lang: str) -> None:
    page.goto(f"{site.url}/?q=isbn:{SHARED.isbn13}&lang={lang}")
    record = page.locator("ol.hits h3 a").first.get_attribute("href")
    for path in ("/", "/?q=thu+vien", record, "/status", "/status/NASATI", "/status/NOPE",
                 "/widget/search?member=HUE&q=thu+vien", "/widget/search?member=NTTU&q=zzzqqq"):  # fmt: skip
        page.goto(site.url + str(path))
        assert_accessible(page)
    page.goto(site.url + "/status")
    screenshot(page, f"status-1280-{lang}")
    page.goto(site.url + "/?lang=vi")


def test_keyboard_reaches_the_first_result_through_the_skip_link(page: Page, site: Site) -> None:
    page.goto(site.url + "/?q=thu+vien")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Bỏ qua, đến kết quả"
    page.keyboard.press("Enter")
    first = page.locator("ol.hits > li h3 a").first.get_attribute("href")
    presses = 0
    while page.evaluate("document.activeElement.getAttribute('href')") != first:
        presses += 1
        assert presses <= 4, "the first result is not within four Tab presses after the skip link"
        page.keyboard.press("Tab")
    # the focused link shows a visible focus ring
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/work/"))
    # a filter chosen with the keyboard alone
    page.goto(site.url + "/?q=thu+vien")
    page.locator(".facets a").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator(".chips")).to_be_visible()


#: Letters only Vietnamese uses among the page's two languages.
VIETNAMESE_TEXT = """(root) => {
  const letters = /[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹàáèéìíòóùúýãõĩũ]/i;
  const found = [];
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const node = walk.currentNode, parent = node.parentElement;
    if (!parent || parent.closest("script, style") || !letters.test(node.textContent)) { continue; }
    const lang = parent.closest("[lang]").getAttribute("lang");
    if (lang !== "vi") { found.push(node.textContent.trim()); }
  }
  return found;
}"""


def test_english_pages_mark_every_vietnamese_text(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/?q=isbn:{SHARED.isbn13}&lang=en")
    record = page.locator("ol.hits h3 a").first.get_attribute("href")
    paths = ["/", "/?q=thu+vien", "/?q=thu+vien&type=book&member=HUE", record, "/status", "/status/NASATI"]
    paths += ['/?q="open', "/widget/search?member=NTTU&q=forestry+plantations+acacia&lang=en"]
    for path in paths:
        page.goto(site.url + str(path))
        assert page.locator("html").get_attribute("lang") == "en"
        unmarked = page.locator("body").evaluate(VIETNAMESE_TEXT)
        assert not unmarked, f"{path}: Vietnamese text without lang=vi: {unmarked[:5]}"

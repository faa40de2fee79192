"""The OPAC widgets on a page of another origin (a second loopback port) whose CSS is hostile:
custom elements in Shadow DOM, the older data-* script form, and the iframe search box."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from app.demo.generator import shared_works
from tests.servers import serve_in_thread

from .conftest import Site, assert_accessible, no_sideways_scroll, screenshot

pytestmark = pytest.mark.browser

SHARED = shared_works()[0]  # held by NASATI, VNUHCM, HUE, TVU, VNUA

#: An OPAC stylesheet that would wreck any widget sharing its styles.
HOSTILE_CSS = """
* { color: #ff00ff !important; font-family: "Comic Sans MS", cursive !important;
    font-size: 28px !important;
    letter-spacing: 3px !important; text-transform: uppercase !important; }
a { background: #ffff00 !important; text-decoration: none !important; }
p, ul, li, div, form, input, button, label { border: 4px dashed red !important; padding: 16px !important; }
lienhop-holdings, lienhop-search { border: 6px dashed #00ff00; padding: 30px; display: block;
    min-height: 40px; }
"""


def _opac_page(lienhop: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hue University OPAC</title><style>{HOSTILE_CSS}</style></head>
<body><main><h1>A record in the OPAC</h1>
<section aria-label="Elsewhere"><lienhop-holdings id="held" member="HUE" isbn="{SHARED.isbn13}" lang="vi">
</lienhop-holdings></section>
<lienhop-holdings id="empty" member="HUE" isbn="9780000000002" lang="vi"></lienhop-holdings>
<section aria-label="Search"><lienhop-search id="search" member="HUE" lang="en"></lienhop-search></section>
<section aria-label="Search elsewhere">
<lienhop-search id="other" member="NTTU" lang="vi"></lienhop-search></section>
<section aria-label="Legacy" id="legacy"><script src="{lienhop}/widget.js" data-member="HUE"
  data-isbn="{SHARED.isbn13}" data-lang="vi"></script></section>
</main></body></html>"""


def _iframe_page(lienhop: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OPAC with the iframe</title><style>{HOSTILE_CSS}</style></head>
<body><main><h1>Search box in a frame</h1>
<iframe title="Lienhop" style="width:100%;max-width:30rem;height:24rem;border:0"
  src="{lienhop}/widget/search?member=HUE&amp;lang=en&amp;q=thu+vien"></iframe>
</main></body></html>"""


@pytest.fixture(scope="module")
def opac(site: Site) -> Iterator[str]:
    """A member's OPAC on its own origin, embedding the widgets from the Lienhop origin."""

    async def record(_request: Request) -> HTMLResponse:
        return HTMLResponse(_opac_page(site.url))

    async def framed(_request: Request) -> HTMLResponse:
        return HTMLResponse(_iframe_page(site.url))

    app = Starlette(routes=[Route("/record", record), Route("/framed", framed)])
    with serve_in_thread(app) as url:
        assert url != site.url
        yield url


def _style(page: Page, selector: str, prop: str) -> str:
    return str(page.locator(selector).evaluate(f"el => getComputedStyle(el).{prop}"))


def test_holdings_element_in_shadow_dom_ignores_the_host_css(page: Page, opac: str) -> None:
    page.goto(opac + "/record")
    held = page.locator("#held")
    expect(held.get_by_text("Cũng có tại:")).to_be_visible()
    links = held.get_by_role("link")
    expect(links).to_have_count(len(SHARED.holders) - 1)  # every other holder, HUE itself left out
    hrefs = links.evaluate_all("ls => ls.map(a => a.href)")
    # through Lienhop's /go, which counts the link-out for HUE and redirects to the holder's OPAC
    assert all("/go/" in h and h.endswith("?member=HUE") for h in hrefs)
    assert page.evaluate("document.getElementById('held').shadowRoot !== null")
    # the page's styles stop at the element: our colours, size and case inside
    assert _style(page, "#held >> a >> nth=0", "color") == "rgb(11, 83, 148)"
    assert _style(page, "#held >> a >> nth=0", "fontSize") == "15px"
    assert _style(page, "#held >> a >> nth=0", "textTransform") == "none"
    assert _style(page, "#held >> p", "borderTopStyle") == "none"
    assert _style(page, "#held", "borderTopStyle") == "none"
    # an item nobody else holds shows nothing at all, not even the page's dashed box
    expect(page.locator("#empty")).to_be_hidden()
    assert page.locator("#empty").bounding_box() is None
    # the older one-line script form still shows the list after its script
    legacy = page.locator("#legacy lienhop-holdings")
    expect(legacy.get_by_role("link")).to_have_count(len(SHARED.holders) - 1)
    expect(legacy.get_by_text("Cũng có tại:")).to_be_visible()
    screenshot(page, "widget-1280")
    assert_accessible(page)


def test_search_element_with_keyboard_alone(page: Page, opac: str) -> None:
    page.goto(opac + "/record")
    box = page.get_by_role("searchbox", name="Search Hue University")
    expect(box).to_be_visible()
    # keyboard only: Tab through the holdings links to the search box, type, Enter, Tab to a result
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "search":
            break
    else:
        pytest.fail("the search box is not reachable with Tab")
    page.keyboard.type("thu vien")
    page.keyboard.press("Enter")
    search = page.locator("#search")
    expect(search.get_by_text("results at Hue University")).to_be_visible()
    page.keyboard.press("Tab")  # the button
    page.keyboard.press("Tab")  # the first result
    focused = page.evaluate("document.getElementById('search').shadowRoot.activeElement.href")
    assert "/work/" in focused
    assert _style(page, "#search >> input", "fontSize") == "15px"
    # nothing at this member: what the other members hold, named in the widget's language
    other = page.locator("#other")
    other.get_by_role("searchbox").fill("forestry plantations acacia")
    other.get_by_role("button", name="Tìm").click()
    expect(other.get_by_text("Có tại các thư viện thành viên khác:")).to_be_visible()
    expect(other.get_by_role("listitem").first).to_be_visible()
    holder = other.get_by_role("listitem").first.inner_text().rsplit("–", 1)[1].strip()
    assert holder != holder.upper()  # a member's name, not its code
    assert_accessible(page)
    page.set_viewport_size({"width": 390, "height": 844})
    scroll, viewport = no_sideways_scroll(page)
    assert scroll <= viewport
    screenshot(page, "widget-390")


def test_iframe_search_box(page: Page, opac: str) -> None:
    page.goto(opac + "/framed")
    frame = page.frame_locator("iframe")
    expect(frame.get_by_role("searchbox", name="Search Hue University")).to_have_value("thu vien")
    expect(frame.locator("html")).to_have_attribute("lang", "en")
    expect(frame.get_by_text("results at Hue University")).to_be_visible()
    assert frame.locator("meta[name=viewport]").count() == 1
    assert_accessible(page)
    screenshot(page, "widget-iframe-1280")

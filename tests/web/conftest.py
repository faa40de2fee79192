"""Browser tests: the app over a harvested demo consortium on loopback, driven in Debian's chromium.

Playwright drives ``/usr/bin/chromium`` (never a browser of its own); every request that does not go
to 127.0.0.1 is answered by the test itself, so a followed OPAC link never leaves the machine.
Screenshots go to ``tests/web/screenshots/`` (ignored by git), or to ``LIENHOP_SCREENSHOTS``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, sync_playwright

from app import operations
from app.context import open_context
from app.demo import setup
from app.demo.oai_provider import make_app
from app.main import create_app
from schemas.settings import Settings
from tests.servers import serve_in_thread

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("LIENHOP_SCREENSHOTS") or Path(__file__).parent / "screenshots")
RECORDS_PER_MEMBER = 40
#: Chromium resolves no host name but loopback: nothing in a browser test can reach the network.
LOOPBACK_ONLY = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


@dataclass
class Site:
    url: str
    settings: Settings


async def _harvest_demo(settings: Settings, demo_url: str) -> None:
    """Every demo member, harvested over HTTP and indexed: more members than a facet shows at once."""
    ctx = await open_context(settings)
    try:
        await setup.register_members(ctx.store, demo_url)
        reports = await operations.harvest(ctx, None, False, None)
        assert all(r.ok for r in reports), [r.error for r in reports if not r.ok]
    finally:
        await ctx.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The Lienhop app on a free loopback port over the harvested demo consortium."""
    home = tmp_path_factory.mktemp("web") / "var"
    settings = Settings(
        home=home,
        backoff_base=0.05,
        request_timeout=5.0,
        scheduler_seconds=0,
        harvest_allow_networks="127.0.0.0/8",  # the demo provider runs on loopback
    )
    # the harvest runs in a thread of its own: sync Playwright may already run an event loop in this one
    with serve_in_thread(make_app(count=RECORDS_PER_MEMBER)) as demo_url, ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _harvest_demo(settings, demo_url)).result()
    with serve_in_thread(create_app(settings)) as url:
        yield Site(url, settings)


@pytest.fixture(scope="module")
def playwright_session() -> Iterator[Playwright]:
    """Sync Playwright runs an event loop in this thread while it is open: per module, so that the
    asyncio tests of other modules find none."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "the browser tests need Debian's chromium: apt-get install chromium"
    launched = playwright_session.chromium.launch(executable_path=CHROMIUM, args=[LOOPBACK_ONLY])
    yield launched
    launched.close()


def _stay_local(route: Route) -> None:
    """Loopback requests go through; any other (an OPAC link, say) gets a stub page naming its URL."""
    host = urlsplit(route.request.url).hostname
    if host == "127.0.0.1":
        route.continue_()
    else:
        body = f"<!doctype html><html lang='en'><title>stub</title><main><h1>{route.request.url}</h1></main>"
        route.fulfill(status=200, content_type="text/html", body=body)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    ctx.set_default_timeout(10_000)
    ctx.route("**/*", _stay_local)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"browser screenshots (1280 and 390 px): {SCREENSHOTS}")


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot under ``SCREENSHOTS``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


#: axe-core rule tags checked on every page: WCAG 2.0-2.2 A and AA, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def assert_accessible(page: Page) -> None:
    """axe-core finds no violation on the page as it is now (shadow roots included)."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    results = Axe().run(page, options=options)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def no_sideways_scroll(page: Page) -> tuple[int, int]:
    """The document's scroll width and the viewport's width."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return int(widths[0]), int(widths[1])

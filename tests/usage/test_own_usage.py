"""Lienhop's own usage: what is counted (COUNTER's rules), for whom, what is stored, and that nothing
queued is lost when the app stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from fastapi import Depends, FastAPI, Request
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.usage_events import STATE_MEMBER, UsageMiddleware, requesting_member
from schemas.auth import KeyCreate
from schemas.member import MemberCreate
from schemas.record import Record
from schemas.settings import Settings
from schemas.usage import OwnCounts
from store.front import RecordStore
from usage.events import DoubleClicks, UsageRecorder
from usage.own import monthly_counts, own_totals
from usage.report import build_report
from usage.tables import own_events

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
OTHER_BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Safari/605.1.15"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
NASATI_OPAC = "https://opac.nasati.example.vn"


class Clock:
    """A monotonic clock the test moves (double clicks are a matter of seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _rows(store: RecordStore) -> list[dict[str, object]]:
    async with store.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(select(own_events).order_by(own_events.c.id))]


@pytest_asyncio.fixture
async def catalogue(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with two members (NASATI gives OPAC links and registered its OPAC's origin) and three
    records, searched by a browser."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        store: RecordStore = app.state.lienhop.store
        await store.add_member(MemberCreate(
            code="NASATI", name_vi="Cục Thông tin KH&CN Quốc gia",
            opac_url_template="https://opac.nasati.example.vn/record/{local_id}", origins=[NASATI_OPAC],
        ))  # fmt: skip
        await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
        await store.commit_page("NASATI", None, [
            Record(member="NASATI", oai_identifier="oai:nasati:1", title="Thư viện số"),
            Record(member="NASATI", oai_identifier="oai:nasati:2", title="Khoa học máy tính"),
        ])  # fmt: skip
        await store.commit_page("HUE", None, [Record(member="HUE", oai_identifier="oai:hue:7", title="Huế")])
        await app.state.lienhop.sync_index()
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 51000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://lienhop.test", headers={"User-Agent": BROWSER}
        ) as client:
            yield app, client


def _ids() -> tuple[str, str, str]:
    return (
        Record(member="NASATI", oai_identifier="oai:nasati:1").id,
        Record(member="NASATI", oai_identifier="oai:nasati:2").id,
        Record(member="HUE", oai_identifier="oai:hue:7").id,
    )


@pytest.mark.asyncio
async def test_go_counts_the_click_and_redirects_to_the_holders_opac(
    catalogue: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = catalogue
    first, _, hue = _ids()
    answer = await client.get(f"/go/{first}", params={"member": "HUE"})
    assert answer.status_code in (302, 303)
    assert answer.headers["location"] == "https://opac.nasati.example.vn/record/1"
    assert (await client.get(f"/go/{hue}")).status_code == 404  # HUE gives no OPAC link
    assert (await client.get("/go/nasati-ffffffffffffffff")).status_code == 404  # no such record
    # the API keeps the OPAC's own address
    assert (await client.get(f"/records/{first}")).json()[
        "opac_url"
    ] == "https://opac.nasati.example.vn/record/1"
    # the record page links through /go
    assert f'href="/go/{first}"' in (await client.get(f"/record/{first}")).text
    await app.state.usage_recorder.flush()
    requests = [r for r in await _rows(app.state.lienhop.store) if r["kind"] == "request"]
    assert [(r["item"], r["member"], r["holder"], r["source"]) for r in requests] == [
        (first, "HUE", "NASATI", "widget")
    ]  # only the redirected click counts; requested for HUE, held by NASATI


@pytest.mark.asyncio
async def test_counting_follows_counter_rules_and_stores_no_address(
    catalogue: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = catalogue
    recorder: UsageRecorder = app.state.usage_recorder
    clock = Clock()
    recorder._clock = clock  # the double-click window, without sleeping 30 seconds
    first, second, _ = _ids()

    await client.get("/search", params={"q": "thư viện"}, headers={"User-Agent": GOOGLEBOT})  # robot: out
    await client.get("/search", params={"q": "thư viện"})
    await client.get("/search", params={"q": "thư viện"})  # a double click: once
    await client.get("/search", params={"q": "máy tính"})  # another search: counted
    clock.now += 31
    await client.get("/search", params={"q": "thư viện"})  # after 30 s: counted again
    await client.get(f"/record/{first}")
    await client.get(f"/record/{first}")  # double click
    clock.now += 31
    await client.get(f"/record/{first}")  # same session, later: a second investigation, not a new unique
    await client.get(f"/record/{second}")
    await client.get(f"/go/{first}")
    await client.get(f"/record/{first}", headers={"User-Agent": OTHER_BROWSER})  # another session
    await client.get("/record/hue-0000000000000000")  # 404: not usage
    await recorder.flush()

    rows = await _rows(app.state.lienhop.store)
    assert [r["kind"] for r in rows] == ["search"] * 3 + ["view"] * 3 + ["request", "view"]
    month = datetime.now(UTC).date().replace(day=1)
    counts = (await monthly_counts(app.state.lienhop.store.engine))[None][month]
    assert counts == {
        "Searches_Platform": 3,
        "Total_Item_Investigations": 5,  # four views and the link-out
        "Total_Item_Requests": 1,
        "Unique_Item_Investigations": 3,  # first and second in session 1, first in session 2
        "Unique_Item_Requests": 1,
    }
    # nothing personal is stored: no address or user agent column, and no value holds either
    columns = {c.name for c in own_events.columns}
    assert columns == {"id", "at", "month", "kind", "source", "member", "holder", "item", "unit"}
    async with app.state.lienhop.store.engine.connect() as conn:
        stored = await conn.run_sync(
            lambda sync: {c["name"] for c in inspect(sync).get_columns("own_usage_events")}
        )
    assert stored == columns
    for row in rows:
        text = " ".join(str(v) for v in row.values())
        assert "203.0.113.9" not in text and "Mozilla" not in text


@pytest.mark.asyncio
async def test_usage_is_attributed_by_member_parameter_and_by_registered_origin(
    catalogue: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = catalogue
    first, second, _ = _ids()
    # the widget's search box and link-outs name their member
    await client.get("/widget/search", params={"member": "HUE", "q": "thư viện"})
    await client.get(f"/go/{first}", params={"member": "hue"})
    # a lookup from a page of NASATI's OPAC (a cross-origin fetch sends Origin)
    await client.get("/lookup", params={"title": "Thư viện số"}, headers={"Origin": NASATI_OPAC})
    # a link-out clicked on NASATI's OPAC page (the browser sends a Referer)
    await client.get(f"/go/{second}", headers={"Referer": f"{NASATI_OPAC}/record/55?lang=vi"})
    # an unregistered origin, an unknown member: the platform's, nobody's
    await client.get("/lookup", params={"title": "Huế"}, headers={"Origin": "https://elsewhere.example.org"})
    await client.get("/widget/search", params={"member": "NOPE", "q": "x"})
    await app.state.usage_recorder.flush()

    rows = await _rows(app.state.lienhop.store)
    assert [(r["kind"], r["source"], r["member"]) for r in rows] == [
        ("search", "widget", "HUE"),
        ("request", "widget", "HUE"),
        ("lookup", "widget", "NASATI"),
        ("request", "page", "NASATI"),
        ("lookup", "widget", None),
    ]  # the search box of an unknown member answers 404: not usage
    totals = await own_totals(app.state.lienhop.store.engine, datetime.now(UTC).year)
    assert totals["HUE"]["searches"] == 1 and totals["HUE"]["link_outs"] == 1
    assert totals["NASATI"]["lookups"] == 1 and totals["NASATI"]["link_outs"] == 1
    assert totals["NASATI"]["link_outs_to"] == 2  # both link-outs went to NASATI's OPAC


@pytest.mark.asyncio
async def test_an_api_key_names_the_member_through_request_state(settings: Settings) -> None:
    """What an API-key dependency sets on ``request.state`` attributes the call (the hook for keys)."""

    def client_key(request: Request) -> None:  # stands in for the keys' dependency
        setattr(request.state, STATE_MEMBER, request.headers.get("x-test-member"))

    app = FastAPI()
    app.add_middleware(UsageMiddleware)

    @app.get("/search", dependencies=[Depends(client_key)])
    async def search() -> dict[str, int]:
        return {"total": 0}

    store = await RecordStore.open(settings.db_url)
    try:
        await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
        app.state.usage_recorder = UsageRecorder(store.engine)
        transport = httpx.ASGITransport(app=app)
        headers = {"User-Agent": BROWSER, "X-Test-Member": "HUE"}
        async with httpx.AsyncClient(transport=transport, base_url="http://lienhop.test") as client:
            await client.get("/search", params={"q": "x"}, headers=headers)
        await app.state.usage_recorder.flush()
        assert [(r["kind"], r["source"], r["member"]) for r in await _rows(store)] == [
            ("search", "api", "HUE")
        ]
    finally:
        await store.close()
    assert requesting_member({"state": {STATE_MEMBER: "HUE"}}, {"member": ["NASATI"]}, "/go/x") == "HUE"
    assert requesting_member({}, {"member": ["nasati"]}, "/go/x") == "NASATI"
    assert requesting_member({}, {"member": ["NASATI"]}, "/search") is None  # there it is a filter


@pytest.mark.asyncio
async def test_no_event_is_lost_on_a_clean_shutdown(settings: Settings) -> None:
    """Events still queued when the app stops are written by the lifespan's shutdown."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        recorder: UsageRecorder = app.state.usage_recorder
        recorder.flush_seconds = 3600  # the background writer will not get to them
        recorder.batch_size = 10_000
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lienhop.test") as client:
            browser = {"User-Agent": BROWSER}
            await asyncio.gather(
                *(client.get("/search", params={"q": f"q{n}"}, headers=browser) for n in range(300))
            )
        assert recorder.written == 0
    reopened = await RecordStore.open(settings.db_url)
    try:
        assert len(await _rows(reopened)) == 300
    finally:
        await reopened.close()


@pytest.mark.asyncio
async def test_a_full_batch_is_written_without_waiting(settings: Settings) -> None:
    store = await RecordStore.open(settings.db_url)
    recorder = UsageRecorder(store.engine, flush_seconds=3600, batch_size=50)
    try:
        await recorder.start()
        for n in range(120):
            recorder.record("search", "api", client="198.51.100.1", user_agent=BROWSER, key=f"q={n}")
        for _ in range(100):
            await asyncio.sleep(0.01)
            if recorder.written >= 100:
                break
        assert recorder.written >= 100  # two full batches went out before the hour's flush
    finally:
        await recorder.close()
    assert len(await _rows(store)) == 120
    await store.close()


def test_a_burst_of_clicks_each_within_30_seconds_counts_once() -> None:
    clicks = DoubleClicks()
    key = ("session", "view", "nasati-0123456789abcdef")
    assert [clicks.is_double(key, t) for t in (0.0, 20.0, 40.0, 71.0)] == [False, True, True, False]
    assert not clicks.is_double(("session", "view", "another"), 71.0)


@pytest.mark.asyncio
async def test_the_usage_report_gives_lienhops_own_use_per_member(
    catalogue: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    """The secretariat's report carries Lienhop's own searches, views and link-outs per member: made
    through the member's widget, with its client key, or from its registered OPAC origin."""
    app, client = catalogue
    store: RecordStore = app.state.lienhop.store
    first, second, hue = _ids()
    _, key = await store.add_key(KeyCreate(scope="client", member="HUE", label="HUE's link resolver"))
    await client.get("/widget/search", params={"member": "HUE", "q": "thư viện"})
    await client.get("/search", params={"q": "máy tính"}, headers={"Authorization": f"Bearer {key}"})
    await client.get(f"/records/{second}", headers={"Authorization": f"Bearer {key}"})
    await client.get(f"/go/{first}", params={"member": "HUE"})
    await client.get("/lookup", params={"title": "Thư viện số"}, headers={"Origin": NASATI_OPAC})
    await client.get(f"/record/{hue}")  # nobody's: counted for the platform only
    await app.state.usage_recorder.flush()

    year = datetime.now(UTC).year
    month = f"{year:04d}-{datetime.now(UTC).month:02d}"
    own = (await build_report(store.engine, year)).lienhop
    assert (own.searches, own.views, own.link_outs) == (3, 2, 1)
    assert own.months == {month: OwnCounts(searches=3, views=2, link_outs=1)}
    by_code = {m.code: m for m in own.members}
    assert [m.code for m in own.members] == ["HUE", "NASATI"]  # ranked by use
    hue_use = by_code["HUE"]
    assert (hue_use.searches, hue_use.views, hue_use.link_outs, hue_use.api_calls) == (2, 1, 1, 2)
    assert hue_use.name == "Đại học Huế" and hue_use.months[month].searches == 2
    nasati = by_code["NASATI"]
    assert (nasati.searches, nasati.link_outs, nasati.link_outs_to) == (1, 0, 1)  # HUE's link-out

    only_hue = (await build_report(store.engine, year, member="HUE")).lienhop
    assert (only_hue.searches, [m.code for m in only_hue.members]) == (2, ["HUE"])

    admin = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)), base_url="http://lienhop.test"
    )  # admin pages answer on loopback when no admin token is set
    async with admin:
        answer = await admin.get("/admin/usage/report", params={"year": year})
        assert answer.json()["lienhop"]["members"][0]["code"] == "HUE"
        for lang, heading in (("vi", "Sử dụng Lienhop"), ("en", "Use of Lienhop")):
            page = (await admin.get("/admin/usage/report/page", params={"year": year, "lang": lang})).text
            assert heading in page and "Đại học Huế" in page

    # the CLI's table (a process of its own on the same store)
    settings: Settings = app.state.lienhop.settings
    env = {"LIENHOP_HOME": str(settings.home), "COLUMNS": "200"}
    shown = await asyncio.to_thread(
        CliRunner().invoke, cli, ["usage", "report", "--year", str(year)], env=env
    )
    assert shown.exit_code == 0, shown.output
    table = shown.output[shown.output.index(f"Use of Lienhop {year}") :]
    rows = [[cell.strip() for cell in line.split("│")[1:7]] for line in table.splitlines() if "│ HUE" in line]
    assert rows == [["HUE", "2", "1", "1", "0", "2"]]  # searches, views, link-outs, to its OPAC, API calls


@pytest.mark.asyncio
async def test_a_client_key_names_the_member_with_the_rate_limit_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"rate_limit": None}))
    async with app.router.lifespan_context(app):
        store: RecordStore = app.state.lienhop.store
        await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
        _, key = await store.add_key(KeyCreate(scope="client", member="HUE", label="HUE's OPAC"))
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 51000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://lienhop.test", headers={"User-Agent": BROWSER}
        ) as client:
            await client.get("/search", params={"q": "huế"}, headers={"Authorization": f"Bearer {key}"})
            await client.get("/search", params={"q": "x"}, headers={"Authorization": "Bearer not-a-key"})
        await app.state.usage_recorder.flush()
        assert [(r["kind"], r["source"], r["member"]) for r in await _rows(store)] == [
            ("search", "api", "HUE"),
            ("search", "api", None),  # a key that is not valid: the public search ignores it
        ]

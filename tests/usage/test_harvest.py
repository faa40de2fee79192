"""Harvesting COUNTER reports from a loopback SUSHI server: numbers, exceptions, replacement, faults."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlalchemy import func, select

from schemas.settings import Settings
from schemas.usage import parse_month
from store.front import RecordStore
from tests.servers import free_port
from usage.harvest import UsageHarvest, add_months
from usage.loading import list_outcomes
from usage.report import build_report
from usage.tables import usage_items

from .conftest import Sushi, add_database
from .sushi_server import TDM_REQUESTS

JAN, FEB = parse_month("2024-01"), parse_month("2024-02")


def states(outcomes: list) -> dict[tuple[str, str, str], tuple[str, int | None]]:
    return {(o.member, o.report_id, o.month): (o.status, o.code) for o in outcomes}


@pytest.mark.asyncio
@pytest.mark.parametrize("release", ["5", "5.1"])
async def test_downloads_are_the_database_report_requests(
    members_store: RecordStore, settings: Settings, sushi: Sushi, sushi51: Sushi, release: str
) -> None:
    server = sushi if release == "5" else sushi51
    server.behaviour.usage = {"LIB-A": {"2024-01": 300, "2024-02": 600}, "LIB-B": {"2024-01": 120}}
    await add_database(
        members_store, server.url, release=release, reports=("DR", "TR", "PR"),
        customers={"NASATI": "LIB-A", "VNU": "LIB-B"},
    )  # fmt: skip

    summaries = await UsageHarvest(members_store.engine, settings).run(None, JAN, FEB)

    by_member = {s.member: s for s in summaries}
    assert by_member["NASATI"].counts == {"ok": 6}
    # VNU used nothing in February: the vendor says 3030 for each report, and that is not a failure
    assert by_member["VNU"].counts == {"ok": 3, "no_usage": 3}
    assert not any(s.failed for s in summaries)

    report = await build_report(members_store.engine, 2024)
    # by hand: DR Regular requests only; the TDM row, the TR and the PR count the same use again
    assert report.total_item_requests == 300 + 600 + 120
    assert report.unique_item_requests == 150 + 300 + 60
    assert report.months_with_data == 2
    assert report.monthly_average == 510.0
    assert [(m.code, m.total_item_requests, m.months) for m in report.members] == [
        ("NASATI", 900, {"2024-01": 300, "2024-02": 600}),
        ("VNU", 120, {"2024-01": 120}),
    ]
    assert report.total_item_requests != 1020 + TDM_REQUESTS

    dr_calls = [c for c in server.behaviour.calls if c["report"] == "dr"]
    assert {(c["begin_date"], c["end_date"]) for c in dr_calls} == {
        ("2024-01-01", "2024-01-31"), ("2024-02-01", "2024-02-29"),
    }  # fmt: skip
    assert all(c["requestor_id"] == "req-lienhop" and c["attributes_to_show"] for c in dr_calls)
    assert not any("attributes_to_show" in c for c in server.behaviour.calls if c["report"] == "dr_d1")


@pytest.mark.asyncio
async def test_a_month_harvested_again_is_replaced_not_added(
    members_store: RecordStore, settings: Settings, sushi: Sushi
) -> None:
    sushi.behaviour.usage = {"LIB-A": {"2024-01": 300, "2024-02": 600}}
    await add_database(members_store, sushi.url, customers={"NASATI": "LIB-A"})
    harvest = UsageHarvest(members_store.engine, settings)
    await harvest.run(None, JAN, FEB)
    sushi.behaviour.usage["LIB-A"]["2024-01"] = 90  # the vendor corrected January
    await UsageHarvest(members_store.engine, settings).run(None, JAN, JAN)

    report = await build_report(members_store.engine, 2024)
    assert report.members[0].months == {"2024-01": 90, "2024-02": 600}
    assert report.total_item_requests == 690
    jan = next(o for o in await list_outcomes(members_store.engine, "SD") if o.month == "2024-01")
    assert jan.status == "ok" and jan.attempts == 2 and jan.rows == 9  # 2 databases x 4 metrics + TDM
    async with members_store.engine.connect() as conn:
        stored = await conn.scalar(
            select(func.count()).select_from(usage_items).where(usage_items.c.month == JAN)
        )
    assert stored == 9  # once, not twice


@pytest.mark.asyncio
@pytest.mark.parametrize("release", ["5", "5.1"])
async def test_every_sushi_exception_is_recorded_and_the_run_goes_on(
    members_store: RecordStore, settings: Settings, sushi: Sushi, sushi51: Sushi, release: str
) -> None:
    server = sushi if release == "5" else sushi51
    server.behaviour.usage = {
        c: {"2024-01": 60, "2024-02": 120} for c in ("LIB-QUEUED-ONCE", "LIB-LATE", "LIB-KEY")
    }
    server.behaviour.late_month = "2024-02"
    customers = {
        "NASATI": "LIB-QUEUED-ONCE", "VNU": "LIB-QUEUED", "HUST": "LIB-EMPTY", "CTU": "LIB-LATE",
        "HUE": "LIB-2000", "VAST": "LIB-2010", "TVU": "LIB-KEY",
    }  # fmt: skip
    registry = await add_database(
        members_store, server.url, release=release, customers=customers, api_key="wrong"
    )
    from pydantic import SecretStr

    from schemas.usage import CredentialsSet

    await registry.set_credentials(
        "SD", "DUT", CredentialsSet(customer_id=SecretStr("LIB-KEY"), api_key=SecretStr("s3cret-key-42"))
    )
    quick = settings.model_copy(update={"max_retries": 2, "backoff_base": 0.01})

    summaries = await UsageHarvest(members_store.engine, quick).run(None, JAN, FEB)

    got = states(await list_outcomes(members_store.engine, "SD"))
    assert got == {
        ("NASATI", "DR", "2024-01"): ("ok", None),  # queued once (1011), asked again, loaded
        ("NASATI", "DR", "2024-02"): ("ok", None),
        ("VNU", "DR", "2024-01"): ("queued", 1011),  # still queued after the retries: next harvest
        ("VNU", "DR", "2024-02"): ("queued", 1011),
        ("HUST", "DR", "2024-01"): ("no_usage", 3030),
        ("HUST", "DR", "2024-02"): ("no_usage", 3030),
        ("CTU", "DR", "2024-01"): ("ok", None),
        ("CTU", "DR", "2024-02"): ("not_ready", 3031),
        # refused credentials: recorded once, the member's other months are not asked
        ("HUE", "DR", "2024-01"): ("unauthorized", 2000),
        ("VAST", "DR", "2024-01"): ("unauthorized", 2010),
        ("TVU", "DR", "2024-01"): ("unauthorized", 2020),
        ("DUT", "DR", "2024-01"): ("ok", None),  # the same customer with the right API key
        ("DUT", "DR", "2024-02"): ("ok", None),
    }
    assert {s.member for s in summaries if s.failed} == {"HUE", "VAST", "TVU"}
    assert sum(1 for c in server.behaviour.calls if c["customer_id"] == "LIB-2000") == 1
    nasati = [c for c in server.behaviour.calls if c["customer_id"] == "LIB-QUEUED-ONCE"]
    assert len(nasati) == 4

    report = await build_report(members_store.engine, 2024)
    assert {m.code: m.total_item_requests for m in report.members} == {"NASATI": 180, "CTU": 60, "DUT": 180}


@pytest.mark.asyncio
async def test_default_harvest_asks_only_for_months_not_yet_loaded(
    members_store: RecordStore, settings: Settings, sushi: Sushi
) -> None:
    today = date.today()
    last = add_months(today.replace(day=1), -1)
    last_key = f"{last.year:04d}-{last.month:02d}"
    sushi.behaviour.usage = {"LIB-A": {last_key: 30}, "LIB-LATE": {last_key: 60}}
    sushi.behaviour.late_month = last_key
    await add_database(members_store, sushi.url, customers={"NASATI": "LIB-A", "CTU": "LIB-LATE"})

    first = await UsageHarvest(members_store.engine, settings).run(None)
    assert {s.member: s.counts for s in first} == {
        "NASATI": {"no_usage": 11, "ok": 1},
        "CTU": {"no_usage": 11, "not_ready": 1},
    }
    asked = len(sushi.behaviour.calls)
    assert asked == 24

    sushi.behaviour.late_month = ""  # the vendor has the last month now
    again = await UsageHarvest(members_store.engine, settings).run(None)
    assert len(sushi.behaviour.calls) == asked + 1
    assert [(s.member, s.counts) for s in again] == [("CTU", {"ok": 1}), ("NASATI", {})]
    report = await build_report(members_store.engine, last.year)
    assert report.members[0].months[last_key] == 60 and report.total_item_requests == 90


@pytest.mark.asyncio
async def test_hostile_or_broken_servers_are_recorded_within_their_deadline(
    members_store: RecordStore, settings: Settings, sushi: Sushi
) -> None:
    sushi.behaviour.usage = {"LIB-A": {"2024-01": 30}}
    sushi.behaviour.slow_seconds = 5
    sushi.behaviour.huge_bytes = 50_000
    customers = {"NASATI": "LIB-A", "VNU": "LIB-SLOW", "HUST": "LIB-HUGE", "CTU": "LIB-AWAY"}
    await add_database(members_store, sushi.url, customers=customers)
    await add_database(
        members_store, f"http://127.0.0.1:{free_port()}/sushi", code="GONE", customers={"HUE": "x"}
    )
    strict = settings.model_copy(
        update={"request_timeout": 0.3, "max_retries": 1, "backoff_base": 0.01, "max_response_bytes": 10_000}
    )

    summaries = await UsageHarvest(members_store.engine, strict).run(None, JAN, JAN)

    outcomes = {o.member: o for o in await list_outcomes(members_store.engine)}
    assert outcomes["NASATI"].status == "ok"
    assert outcomes["VNU"].status == "error" and "Timeout" in outcomes["VNU"].message
    assert outcomes["HUST"].status == "error" and "cap" in outcomes["HUST"].message
    assert outcomes["CTU"].status == "error" and "another host" in outcomes["CTU"].message
    assert outcomes["HUE"].status == "error" and "ConnectError" in outcomes["HUE"].message
    assert outcomes["VNU"].attempts == 2  # retried once, then recorded
    assert {s.member for s in summaries if s.failed} == {"VNU", "HUST", "CTU", "HUE"}
    # no message says which customer asked: the query string is never written down
    assert not any("customer_id" in o.message or "LIB-" in o.message for o in outcomes.values())


@pytest.mark.asyncio
async def test_credentials_reach_no_log(
    members_store: RecordStore, settings: Settings, sushi: Sushi, caplog: pytest.LogCaptureFixture
) -> None:
    sushi.behaviour.usage = {"LIB-KEY": {"2024-01": 30}}
    await add_database(members_store, sushi.url, customers={"NASATI": "LIB-KEY"}, api_key="s3cret-key-42")
    with caplog.at_level(logging.DEBUG):
        await UsageHarvest(members_store.engine, settings).run(None, JAN, JAN)
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log the request
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "s3cret-key-42" not in logged and "LIB-KEY" not in logged and "req-lienhop" not in logged
    assert sushi.behaviour.calls[0]["api_key"] == "s3cret-key-42"  # but the server got it

"""Scheduled usage harvests: the leader's scheduler harvests the months that are due, one job at a time,
and asks again, after a rest, for a month the vendor did not have ready."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import insert, update

from app import scheduler
from app.context import AppContext, open_context
from app.jobs import Job, JobView
from schemas.member import MemberCreate
from schemas.settings import Settings
from schemas.usage import CredentialsSet
from store.tables import jobs
from usage.harvest import UsageHarvest, add_months, last_due_month
from usage.loading import list_outcomes
from usage.report import build_report
from usage.tables import usage_harvests

from .conftest import Sushi, add_database


def test_last_month_is_due_from_the_day_set() -> None:
    assert last_due_month(date(2026, 3, 4), 5) == date(2026, 1, 1)  # February's usage is not asked yet
    assert last_due_month(date(2026, 3, 5), 5) == date(2026, 2, 1)
    assert last_due_month(date(2026, 1, 31), 5) == date(2025, 12, 1)
    assert last_due_month(date(2026, 1, 2), 5) == date(2025, 11, 1)
    assert last_due_month(date(2026, 1, 1), 1) == date(2025, 12, 1)


@contextlib.asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[AppContext]:
    """The application's context on ``settings``, its jobs and store closed afterwards."""
    ctx = await open_context(settings)
    try:
        yield ctx
    finally:
        await ctx.jobs.close()
        await ctx.close()


async def _finished(ctx: AppContext) -> JobView:
    """The newest usage-harvest job, once it has ended."""
    [job] = [j for j in await ctx.jobs.list() if j.kind == "usage-harvest"][:1]  # newest first
    for _ in range(600):
        if job.state not in ("queued", "running"):
            return job
        await asyncio.sleep(0.05)
        job = await ctx.jobs.get(job.id)
    raise AssertionError(f"job {job.id} still {job.state}")


async def _answered_ago(ctx: AppContext, ago: timedelta) -> None:
    async with ctx.store.engine.begin() as conn:
        await conn.execute(update(usage_harvests).values(updated=datetime.now(UTC) - ago))


def _key(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


@pytest.mark.asyncio
async def test_a_tick_harvests_due_months_and_retries_a_late_one(settings: Settings, sushi: Sushi) -> None:
    # day 1: last month is always due, whatever the day the test runs
    quick = settings.model_copy(update={"usage_harvest_day": 1, "usage_retry_hours": 6.0})
    last = last_due_month(datetime.now(UTC).date(), 1)
    before = add_months(last, -1)
    sushi.behaviour.usage = {"LIB-A": {_key(last): 30, _key(before): 10}, "LIB-LATE": {_key(last): 60}}
    sushi.behaviour.late_month = _key(last)  # the vendor has not counted CTU's last month yet
    async with _opened(quick) as ctx:
        for code in ("NASATI", "CTU"):
            await ctx.store.add_member(MemberCreate(code=code, name_vi=code))
        await add_database(ctx.store, sushi.url, customers={"NASATI": "LIB-A", "CTU": "LIB-LATE"})

        assert await scheduler.usage_tick(ctx) == ["SD"]
        assert await scheduler.usage_tick(ctx) == [], "a usage harvest is waiting or running: no second"
        job = await _finished(ctx)
        assert job.state == "done" and job.params["scheduled"] is True and job.params["to"] == _key(last)
        assert len(sushi.behaviour.calls) == 24  # 12 months of two members, once each
        outcomes = {(o.member, o.month): o.status for o in await list_outcomes(ctx.store.engine, "SD")}
        assert outcomes[("CTU", _key(last))] == "not_ready"
        assert outcomes[("NASATI", _key(last))] == "ok" and outcomes[("NASATI", _key(before))] == "ok"

        assert await scheduler.usage_tick(ctx) == [], "the late month rests before it is asked again"
        sushi.behaviour.late_month = ""  # the vendor has it now
        await _answered_ago(ctx, timedelta(hours=6, minutes=1))  # and the month has rested
        assert await scheduler.usage_tick(ctx) == ["SD"]
        assert (await _finished(ctx)).state == "done"
        assert len(sushi.behaviour.calls) == 25, "only the late month was asked again"
        assert sushi.behaviour.calls[-1]["customer_id"] == "LIB-LATE"
        report = await build_report(ctx.store.engine, last.year)
        assert {m.code: m.months.get(_key(last)) for m in report.members} == {"CTU": 60, "NASATI": 30}
        assert await scheduler.usage_tick(ctx) == [], "every month loaded: nothing due until next month"


@pytest.mark.asyncio
async def test_refused_credentials_are_tried_again_once_set_anew(settings: Settings, sushi: Sushi) -> None:
    quick = settings.model_copy(update={"usage_harvest_day": 1})  # a day's rest: not within this test
    last = last_due_month(datetime.now(UTC).date(), 1)
    sushi.behaviour.usage = {"LIB-KEY": {_key(last): 40}}
    async with _opened(quick) as ctx:
        await ctx.store.add_member(MemberCreate(code="HUE", name_vi="HUE"))
        registry = await add_database(ctx.store, sushi.url, customers={"HUE": "LIB-KEY"}, api_key="wrong")
        assert await scheduler.usage_tick(ctx) == ["SD"]
        await _finished(ctx)
        [refused] = await list_outcomes(ctx.store.engine, "SD")
        assert (refused.status, refused.code) == ("unauthorized", 2020)
        assert await scheduler.usage_tick(ctx) == []

        given = CredentialsSet(customer_id=SecretStr("LIB-KEY"), api_key=SecretStr("s3cret-key-42"))
        await registry.set_credentials("SD", "HUE", given)
        assert await scheduler.usage_tick(ctx) == ["SD"]
        assert (await _finished(ctx)).state == "done"
        report = await build_report(ctx.store.engine, last.year)
        assert report.members[0].months[_key(last)] == 40


@pytest.mark.asyncio
async def test_the_setting_turns_scheduled_usage_harvests_off(settings: Settings, sushi: Sushi) -> None:
    async with _opened(settings.model_copy(update={"usage_harvest_day": 0})) as ctx:
        await ctx.store.add_member(MemberCreate(code="NASATI", name_vi="NASATI"))
        await add_database(ctx.store, sushi.url, customers={"NASATI": "LIB-A"})
        assert await scheduler.usage_tick(ctx) == []
        assert sushi.behaviour.calls == [] and await ctx.jobs.list() == []


@pytest.mark.asyncio
async def test_an_admin_harvest_running_holds_the_scheduled_one_back(
    settings: Settings, sushi: Sushi
) -> None:
    sushi.behaviour.slow_seconds = 1.0
    async with _opened(settings.model_copy(update={"usage_harvest_day": 1})) as ctx:
        await ctx.store.add_member(MemberCreate(code="VNU", name_vi="VNU"))
        await add_database(ctx.store, sushi.url, customers={"VNU": "LIB-SLOW"})

        async def work(job: Job) -> Any:
            january = date(2024, 1, 1)
            return await UsageHarvest(ctx.store.engine, ctx.settings, job).run(None, january, january)

        await ctx.jobs.start("usage-harvest", work, {"databases": None}, who="admin")
        assert await scheduler.usage_tick(ctx) == []
        await _finished(ctx)
        assert await scheduler.usage_tick(ctx) == ["SD"]


@pytest.mark.asyncio
async def test_a_usage_harvest_of_a_stopped_process_holds_nothing_back(
    settings: Settings, sushi: Sushi
) -> None:
    """A job left 'running' by a server that died (its heartbeat stopped) is failed, not waited for."""
    sushi.behaviour.usage = {"LIB-A": {}}
    async with _opened(settings.model_copy(update={"usage_harvest_day": 1})) as ctx:
        await ctx.store.add_member(MemberCreate(code="NASATI", name_vi="NASATI"))
        await add_database(ctx.store, sushi.url, customers={"NASATI": "LIB-A"})
        long_ago = datetime.now(UTC) - timedelta(minutes=10)
        async with ctx.store.engine.begin() as conn:
            await conn.execute(insert(jobs).values(
                kind="usage-harvest", state="running", params={}, who="scheduler", owner="gone:1:x",
                created=long_ago, started=long_ago, heartbeat=long_ago, tasks=[],
            ))  # fmt: skip
        assert await scheduler.usage_tick(ctx) == ["SD"]
        assert (await _finished(ctx)).state == "done"
        stopped = [j for j in await ctx.jobs.list() if j.kind == "usage-harvest" and j.state == "failed"]
        assert len(stopped) == 1

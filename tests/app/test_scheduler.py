"""Scheduled harvests: a member whose schedule is due is harvested by the server, as an ordinary job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from app import operations, scheduler
from app.context import AppContext, open_context
from app.demo import setup
from schemas.member import Member, MemberCreate, harvest_overdue, next_harvest
from schemas.settings import Settings
from store.records import utcnow
from store.tables import jobs, runs
from tests.servers import serve_in_thread
from tests.servers.faulty import Fault, FaultyProvider, vietnamese_records

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)


def _member(code: str, schedule: str, **extra: object) -> Member:
    return Member.model_validate(
        {"code": code, "name_vi": code, "oai_url": "http://x.test/oai", "harvest_schedule": schedule, **extra}
    )


def test_due_members_follow_each_schedule() -> None:
    members = [
        _member("NEVER", "daily"),
        _member("DAILY", "daily"),
        _member("FRESH", "daily"),
        _member("WEEKLY", "weekly"),
        _member("MANUAL", "manual"),
        _member("OFF", "hourly", active=False),
    ]
    last = {
        "DAILY": NOW - timedelta(days=1, minutes=1),
        "FRESH": NOW - timedelta(hours=3),
        "WEEKLY": NOW - timedelta(days=3),
        "MANUAL": None,
        "OFF": None,
    }
    # NEVER was never harvested: its first harvest is an admin's to start
    assert scheduler.due_members(members, last, NOW) == ["DAILY"]


def test_a_schedule_that_stopped_running_is_overdue() -> None:
    daily = _member("DAILY", "daily")
    yesterday = NOW - timedelta(days=1)
    assert next_harvest(daily, yesterday, NOW) == NOW
    assert not harvest_overdue(daily, yesterday, NOW)  # due now: the scheduler's next tick takes it
    assert not harvest_overdue(daily, NOW - timedelta(hours=29), NOW)  # five hours late: within grace
    assert harvest_overdue(daily, NOW - timedelta(hours=31), NOW)  # a quarter of a day late
    assert harvest_overdue(_member("HOURLY", "hourly"), NOW - timedelta(minutes=80), NOW)
    never = _member("NEVER", "daily")  # never harvested: not scheduled until an admin starts it
    assert next_harvest(never, None, NOW) is None and not harvest_overdue(never, None, NOW)
    for idle in (_member("MANUAL", "manual"), _member("OFF", "daily", active=False)):
        assert next_harvest(idle, yesterday, NOW) is None and not harvest_overdue(
            idle, yesterday - timedelta(days=9), NOW
        )


@pytest.mark.asyncio
async def test_tick_harvests_due_members_once(settings: Settings, demo_url: str) -> None:
    ctx = await open_context(settings)
    try:
        await setup.register_members(ctx.store, demo_url)
        await ctx.store.update_member("TVU", harvest_schedule="daily")
        assert await scheduler.tick(ctx) == [], "a new member waits for an admin to start its first harvest"
        assert await ctx.store.last_run("TVU", "harvest") is None
        [first] = await operations.harvest(ctx, ["TVU"], False, None)  # the admin starts it
        assert first.ok, first.error
        await _started_ago(ctx, first.id, timedelta(days=1, minutes=1))
        assert await scheduler.tick(ctx) == ["TVU"]
        job = (await ctx.jobs.list())[0]
        while job.state in ("queued", "running"):
            await asyncio.sleep(0.05)
            job = await ctx.jobs.get(job.id)
        assert job.state == "done" and job.params["scheduled"] is True
        run = await ctx.store.last_run("TVU", "harvest")
        assert run is not None and run.ok and run.id != first.id
        # the scheduler's run says so (the member scorecard counts them), the admin's does not
        assert run.params.get("scheduled") == "true" and "scheduled" not in first.params
        assert await scheduler.tick(ctx) == [], "a member harvested a moment ago is not due again"
    finally:
        await ctx.jobs.close()
        await ctx.close()


@pytest.mark.asyncio
async def test_a_harvest_job_of_a_stopped_process_holds_nothing_back(
    settings: Settings, demo_url: str
) -> None:
    """Jobs left 'queued' and 'running' (of every member) by a server that died are failed, not
    waited for: the member that is due is harvested."""
    ctx = await open_context(settings)
    try:
        await setup.register_members(ctx.store, demo_url)
        await ctx.store.update_member("TVU", harvest_schedule="daily")
        [first] = await operations.harvest(ctx, ["TVU"], False, None)
        await _started_ago(ctx, first.id, timedelta(days=1, minutes=1))
        long_ago = utcnow() - timedelta(minutes=10)
        async with ctx.store.engine.begin() as conn:
            for state in ("running", "queued"):
                await conn.execute(insert(jobs).values(
                    kind="harvest", state=state, params={"codes": None}, who="scheduler", owner="gone:1:x",
                    created=long_ago, heartbeat=long_ago, tasks=[],
                ))  # fmt: skip
        assert await scheduler.tick(ctx) == ["TVU"]
        job = next(j for j in await ctx.jobs.list() if j.params.get("scheduled"))
        while job.state in ("queued", "running"):
            await asyncio.sleep(0.05)
            job = await ctx.jobs.get(job.id)
        assert job.state == "done"
    finally:
        await ctx.jobs.close()
        await ctx.close()


async def _started_ago(ctx: AppContext, run_id: int | None, ago: timedelta) -> None:
    async with ctx.store.engine.begin() as conn:
        await conn.execute(update(runs).where(runs.c.id == run_id).values(started=utcnow() - ago))


@pytest.mark.asyncio
async def test_a_hanging_member_does_not_hold_back_the_others(settings: Settings) -> None:
    """The members due at a tick are harvested side by side: one whose repository never answers
    runs until its deadline while the other is harvested and done, and the hanging one is not
    started twice."""
    hangs = FaultyProvider(records=vietnamese_records(3, START))
    hangs.script = [Fault(hang=30.0)] * 10
    answers = FaultyProvider(records=vietnamese_records(3, START))
    patient = settings.model_copy(update={"max_retries": 0, "request_timeout": 60.0})
    ctx = await open_context(patient)
    try:
        with serve_in_thread(hangs) as slow, serve_in_thread(answers) as quick:
            seeded: dict[str, int | None] = {}
            for code, url in (("SLOW", slow), ("QUICK", quick)):
                await ctx.store.add_member(MemberCreate(code=code, name_vi=code, oai_url=url + "/oai"))
                run = await ctx.store.start_run(code, "harvest")
                await ctx.store.finish_run(run.id or 0, ok=True)
                await _started_ago(ctx, run.id, timedelta(days=2))
                seeded[code] = run.id
            assert sorted(await scheduler.tick(ctx)) == ["QUICK", "SLOW"]
            quick_run = None
            for _ in range(400):
                quick_run = await ctx.store.last_run("QUICK", "harvest")
                if quick_run and quick_run.id != seeded["QUICK"] and quick_run.finished is not None:
                    break
                await asyncio.sleep(0.05)
            assert quick_run is not None and quick_run.ok, "QUICK was held back by SLOW"
            assert quick_run.added == 3
            slow_run = await ctx.store.last_run("SLOW", "harvest")
            assert slow_run is not None and slow_run.id != seeded["SLOW"], "SLOW's harvest started"
            assert slow_run.finished is None, "SLOW is still being harvested"
            (job,) = [j for j in await ctx.jobs.list() if j.kind == "harvest"]
            assert job.state == "running" and sorted(job.params["codes"]) == ["QUICK", "SLOW"]
            assert await scheduler.tick(ctx) == [], "SLOW is still being harvested: not started twice"
            await ctx.jobs.close()
    finally:
        await ctx.close()

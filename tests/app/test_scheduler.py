"""Scheduled harvests: a member whose schedule is due is harvested by the server, as an ordinary job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app import scheduler
from app.context import open_context
from app.demo import setup
from schemas.member import Member, harvest_overdue, next_harvest
from schemas.settings import Settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


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
    assert scheduler.due_members(members, last, NOW) == ["NEVER", "DAILY"]


def test_a_schedule_that_stopped_running_is_overdue() -> None:
    daily = _member("DAILY", "daily")
    yesterday = NOW - timedelta(days=1)
    assert next_harvest(daily, yesterday, NOW) == NOW
    assert not harvest_overdue(daily, yesterday, NOW)  # due now: the scheduler's next tick takes it
    assert not harvest_overdue(daily, NOW - timedelta(hours=29), NOW)  # five hours late: within grace
    assert harvest_overdue(daily, NOW - timedelta(hours=31), NOW)  # a quarter of a day late
    assert harvest_overdue(_member("HOURLY", "hourly"), NOW - timedelta(minutes=80), NOW)
    assert not harvest_overdue(_member("NEVER", "daily"), None, NOW)  # never harvested: due, not late
    for idle in (_member("MANUAL", "manual"), _member("OFF", "daily", active=False)):
        assert next_harvest(idle, yesterday, NOW) is None and not harvest_overdue(
            idle, yesterday - timedelta(days=9), NOW
        )


@pytest.mark.asyncio
async def test_tick_harvests_due_members_once(settings: Settings, demo_url: str) -> None:
    ctx = await open_context(settings)
    try:
        await setup.register_members(ctx.store, demo_url)
        for member in await ctx.store.list_members():
            if member.code != "TVU":
                await ctx.store.update_member(member.code, harvest_schedule="manual")
        assert await scheduler.tick(ctx) == ["TVU"]
        job = (await ctx.jobs.list())[0]
        while job.state in ("queued", "running"):
            await asyncio.sleep(0.05)
            job = await ctx.jobs.get(job.id)
        assert job.state == "done" and job.params["scheduled"] is True
        run = await ctx.store.last_run("TVU", "harvest")
        assert run is not None and run.ok and run.added > 0
        assert await scheduler.tick(ctx) == [], "a member harvested a moment ago is not due again"
    finally:
        await ctx.jobs.close()
        await ctx.close()

"""The built-in harvest scheduler: the server harvests members whose ``harvest_schedule`` is due.

Union catalogues usually leave this to cron, and a schedule that silently stops running is a pain
point users report; here the schedule lives with the member and every scheduled harvest is an ordinary
job, visible in ``/admin/jobs`` and in the member's runs. A member's schedule starts with its first
harvest, which an admin starts; the members due at a tick are harvested side by side, so one that
hangs (until its run deadline) delays nobody else of that tick.

The same loop starts the usage harvests (:func:`usage_tick`): from ``usage_harvest_day`` of each month,
every shared database's COUNTER reports of the months not loaded yet, as one ``usage-harvest`` job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from schemas.member import Member, next_harvest
from store.common import utcnow
from usage.harvest import Backoff, UsageHarvest, default_range, last_due_month

from . import operations
from .context import AppContext
from .jobs import Job, JobView

log = logging.getLogger(__name__)


def due_members(
    members: Iterable[Member], last_started: dict[str, datetime | None], now: datetime
) -> list[str]:
    """Codes of active, harvestable members whose schedule has come round.

    A member never harvested is not due: its first harvest is started by an admin (see
    :func:`schemas.member.next_harvest`).
    """
    due: list[str] = []
    for member in members:
        when = next_harvest(member, last_started.get(member.code), now)
        if when is not None and when <= now:
            due.append(member.code)
    return due


def _busy(jobs: Iterable[JobView], members: Iterable[Member]) -> set[str]:
    """The members a running harvest job is harvesting (a job of all members: every one)."""
    busy: set[str] = set()
    for job in jobs:
        if job.kind != "harvest" or job.state != "running":
            continue
        codes = job.params.get("codes")
        busy.update(codes if codes is not None else (m.code for m in members))
    return busy


async def tick(ctx: AppContext) -> list[str]:
    """Start one harvest job for the members that are due and not being harvested already.

    Jobs are kept in the store and one harvest job runs at a time across server processes, so the
    due members share a job; inside it they are harvested side by side (``harvest_concurrency``),
    each bounded by the run deadline (``harvest_run_deadline``), so a member whose repository hangs
    never holds back the others of its tick. While a harvest job waits for its turn no other is added.
    A job whose process stopped is failed first (:meth:`~app.jobs.JobRegistry.active`): it holds
    nothing back.
    """
    jobs = await ctx.jobs.active("harvest")
    if any(job.state == "queued" for job in jobs):
        return []
    members = await ctx.store.list_members(active_only=True)
    busy = _busy(jobs, members)
    last: dict[str, datetime | None] = {}
    for member in members:
        run = await ctx.store.last_run(member.code, "harvest")
        last[member.code] = run.started if run else None
    codes = [code for code in due_members(members, last, utcnow()) if code not in busy]
    if codes:

        async def work(job: Job) -> Any:
            reports = await operations.harvest(ctx, codes, False, job, scheduled=True)
            return [r.model_dump(mode="json") for r in reports]

        params = {"codes": codes, "full": False, "scheduled": True}
        await ctx.jobs.start("harvest", work, params, who="scheduler")
        log.info("scheduled harvest of %s", ", ".join(codes))
    return codes


USAGE_JOB = "usage-harvest"


async def usage_tick(ctx: AppContext, now: datetime | None = None) -> list[str]:
    """Start one usage-harvest job for the shared databases with a month due, unless one is waiting
    or running (started by an admin or by an earlier tick): never two at a time.

    Due: a month of the 12 up to :func:`~usage.harvest.last_due_month` that no harvest or import has
    loaded for a member with credentials, or that was answered 3031, 1011, refused or failed at least
    ``usage_retry_hours`` ago (or before the member's credentials were set anew). Loaded months
    (``ok``, ``no_usage``) and those refused for good (``unsupported``) are not asked again.
    """
    settings = ctx.settings
    if settings.usage_harvest_day <= 0:
        return []
    if await ctx.jobs.active(USAGE_JOB):
        return []
    now = now or utcnow()
    last = last_due_month(now.date(), settings.usage_harvest_day)
    months = default_range(None, last)
    backoff = Backoff(timedelta(hours=settings.usage_retry_hours), now)
    codes = await UsageHarvest(ctx.store.engine, settings, backoff=backoff).due(months)
    if codes:

        async def work(job: Job) -> Any:
            harvest = UsageHarvest(ctx.store.engine, settings, job, backoff=backoff)
            return [s.model_dump(mode="json") for s in await harvest.run_months(codes, months, False)]

        params = {"databases": codes, "from": None, "to": f"{last:%Y-%m}", "scheduled": True}
        await ctx.jobs.start(USAGE_JOB, work, params, who="scheduler")
        log.info("scheduled usage harvest of %s", ", ".join(codes))
    return codes


async def run(ctx: AppContext, every: float, stop: asyncio.Event) -> None:
    """Check the schedules every ``every`` seconds (the first check after one interval) until stopped."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):  # the normal way to wait out the interval
            await asyncio.wait_for(stop.wait(), timeout=every)
        if stop.is_set():
            return
        for duty, what in ((tick, "harvest"), (usage_tick, "usage harvest")):
            try:
                await duty(ctx)
            except Exception:
                log.exception("the %s scheduler failed; it will try again", what)

"""The built-in harvest scheduler: the server harvests members whose ``harvest_schedule`` is due.

Union catalogues usually leave this to cron, and a schedule that silently stops running is a pain
point users report; here the schedule lives with the member and every scheduled harvest is an ordinary
job, visible in ``/admin/jobs`` and in the member's runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from schemas.member import Member, next_harvest
from store.common import utcnow

from . import operations
from .context import AppContext
from .jobs import Job

log = logging.getLogger(__name__)


def due_members(
    members: Iterable[Member], last_started: dict[str, datetime | None], now: datetime
) -> list[str]:
    """Codes of active, harvestable members whose schedule has come round (never harvested = due)."""
    due: list[str] = []
    for member in members:
        when = next_harvest(member, last_started.get(member.code), now)
        if when is not None and when <= now:
            due.append(member.code)
    return due


async def tick(ctx: AppContext) -> list[str]:
    """Start one harvest job for every member that is due, unless a harvest job is waiting or running
    (in any server process: jobs are kept in the store)."""
    if any(job.kind == "harvest" and job.state in ("queued", "running") for job in await ctx.jobs.list()):
        return []
    members = await ctx.store.list_members(active_only=True)
    last: dict[str, datetime | None] = {}
    for member in members:
        run = await ctx.store.last_run(member.code, "harvest")
        last[member.code] = run.started if run else None
    codes = due_members(members, last, utcnow())
    if codes:

        async def work(job: Job) -> Any:
            reports = await operations.harvest(ctx, codes, False, job)
            return [r.model_dump(mode="json") for r in reports]

        params = {"codes": codes, "full": False, "scheduled": True}
        await ctx.jobs.start("harvest", work, params, who="scheduler")
        log.info("scheduled harvest of %s", ", ".join(codes))
    return codes


async def run(ctx: AppContext, every: float, stop: asyncio.Event) -> None:
    """Check the schedules every ``every`` seconds (the first check after one interval) until stopped."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):  # the normal way to wait out the interval
            await asyncio.wait_for(stop.wait(), timeout=every)
        if stop.is_set():
            return
        try:
            await tick(ctx)
        except Exception:
            log.exception("the harvest scheduler failed; it will try again")

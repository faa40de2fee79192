"""The built-in harvest scheduler: the server harvests members whose ``harvest_schedule`` is due.

Union catalogues usually leave this to cron, and a schedule that silently stops running is a pain
point users report; here the schedule lives with the member and every scheduled harvest is an ordinary
job, visible in ``/admin/jobs`` and in the member's runs. A member's schedule starts with its first
harvest, which an admin starts; the members due at a tick are harvested side by side, so one that
hangs (until its run deadline) delays nobody else of that tick.
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
    """
    jobs = await ctx.jobs.list()
    if any(job.kind == "harvest" and job.state == "queued" for job in jobs):
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

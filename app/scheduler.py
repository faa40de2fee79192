"""The built-in harvest scheduler: the server harvests members whose ``harvest_schedule`` is due.

Union catalogues usually leave this to cron, and a schedule that silently stops running is a pain
point users report; here the schedule lives with the member and every scheduled harvest is an ordinary
job, visible in ``/admin/jobs`` and in the member's runs. A member's schedule starts with its first
harvest, which an admin starts; each member due runs as a job of its own, so one that hangs (until its
run deadline) delays nobody else.
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


def _busy(jobs: Iterable[Job], members: Iterable[Member]) -> tuple[set[str], int]:
    """The members a running harvest job is harvesting (a job of all members: every one), and how
    many scheduled harvest jobs are running."""
    busy: set[str] = set()
    scheduled = 0
    for job in jobs:
        if job.kind != "harvest" or job.state != "running":
            continue
        codes = job.params.get("codes")
        busy.update(codes if codes is not None else (m.code for m in members))
        scheduled += bool(job.params.get("scheduled"))
    return busy, scheduled


async def tick(ctx: AppContext) -> list[str]:
    """Start a harvest job for each member that is due and not being harvested already.

    Each member gets a job of its own, bounded by the run deadline (``harvest_run_deadline``), so a
    member whose repository hangs never holds back the others' schedules; at most
    ``harvest_concurrency`` scheduled jobs run at once, and members left over start at a later tick.
    """
    members = await ctx.store.list_members(active_only=True)
    busy, running = _busy(ctx.jobs.list(), members)
    last: dict[str, datetime | None] = {}
    for member in members:
        run = await ctx.store.last_run(member.code, "harvest")
        last[member.code] = run.started if run else None
    room = max(0, ctx.settings.harvest_concurrency - running)
    codes = [code for code in due_members(members, last, utcnow()) if code not in busy][:room]
    for code in codes:
        _start(ctx, code)
    if codes:
        log.info("scheduled harvest of %s", ", ".join(codes))
    return codes


def _start(ctx: AppContext, code: str) -> None:
    async def work(job: Job) -> Any:
        reports = await operations.harvest(ctx, [code], False, job)
        return [r.model_dump(mode="json") for r in reports]

    ctx.jobs.start("harvest", work, {"codes": [code], "full": False, "scheduled": True})


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

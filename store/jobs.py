"""Background jobs kept in the store (tables ``jobs``, ``job_slots``), so every server process sees them.

Admission and start are serialised per kind of job across processes by updating the kind's row of
``job_slots`` first in the transaction: on PostgreSQL that locks the row, on SQLite it takes the
database's write lock. A job whose process stopped (no heartbeat for ``stale_after`` seconds) is
marked failed the next time anyone looks, and frees its slot.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .common import Tables, aware, utcnow
from .tables import job_slots, jobs

ACTIVE = ("queued", "running")
STOPPED = "the server process running this job stopped"


class JobTables(Tables):
    """The ``jobs`` and ``job_slots`` tables. Rows come back as plain dicts (``app.jobs`` shapes them)."""

    async def _ensure_slot(self, kind: str) -> None:
        made = self.__dict__.setdefault("_slots_made", set())
        if kind in made:
            return
        try:
            async with self.engine.begin() as conn:
                found = await conn.execute(select(job_slots.c.kind).where(job_slots.c.kind == kind))
                if found.first() is None:
                    await conn.execute(insert(job_slots).values(kind=kind, job_id=None))
        except IntegrityError:
            pass  # another process made it meanwhile
        made.add(kind)

    async def admit_job(
        self,
        kind: str,
        params: dict[str, Any],
        member: str | None,
        who: str,
        owner: str,
        *,
        limit: int,
        dedupe: bool,
        stale_after: float,
    ) -> tuple[dict[str, Any] | None, bool]:
        """Queue a job: ``(job, True)``. With ``dedupe``, an active job of the kind is answered instead:
        ``(that job, False)``. When ``limit`` jobs of the kind are waiting or running: ``(None, False)``."""
        await self._ensure_slot(kind)
        async with self.engine.begin() as conn:
            await _lock(conn, kind)
            active = await _active(conn, kind, stale_after)
            if dedupe and active:
                running = [j for j in active if j["state"] == "running"]
                return (running or active)[0], False
            if len(active) >= limit:
                return None, False
            now = utcnow()
            result = await conn.execute(
                insert(jobs).values(
                    kind=kind,
                    state="queued",
                    params=params,
                    member=member,
                    who=who,
                    owner=owner,
                    created=now,
                    heartbeat=now,
                    tasks=[],
                )
            )
            inserted = result.inserted_primary_key
            assert inserted is not None
            row = (await conn.execute(select(jobs).where(jobs.c.id == inserted[0]))).one()
        return _job(row._mapping), True

    async def claim_job(self, kind: str, job_id: int, stale_after: float) -> bool:
        """Start job ``job_id`` if it is the oldest waiting job of its kind and none is running."""
        async with self.engine.begin() as conn:
            await _lock(conn, kind)
            active = await _active(conn, kind, stale_after)
            if any(j["state"] == "running" for j in active):
                return False
            if not active or active[0]["id"] != job_id:
                return False
            now = utcnow()
            await conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(state="running", started=now, heartbeat=now)
            )
            await conn.execute(update(job_slots).where(job_slots.c.kind == kind).values(job_id=job_id))
        return True

    async def finish_job(self, kind: str, job_id: int, **values: Any) -> None:
        """Record the end of a job (state, result or error, tasks) and free its kind's slot."""
        async with self.engine.begin() as conn:
            await _lock(conn, kind)
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(finished=utcnow(), **values))
            await conn.execute(
                update(job_slots)
                .where(job_slots.c.kind == kind, job_slots.c.job_id == job_id)
                .values(job_id=None)
            )

    async def active_jobs(self, kind: str, stale_after: float) -> list[dict[str, Any]]:
        """Queued and running jobs of ``kind``, oldest first, after failing those of stopped processes
        (a look that must not be fooled by a job whose process died)."""
        await self._ensure_slot(kind)
        async with self.engine.begin() as conn:
            await _lock(conn, kind)
            return await _active(conn, kind, stale_after)

    async def count_active_jobs(self, kind: str) -> int:
        """Queued and running jobs of ``kind`` (a quick look before an upload; admission decides)."""
        query = select(func.count()).select_from(jobs).where(jobs.c.kind == kind, jobs.c.state.in_(ACTIVE))
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def update_job(self, job_id: int, **values: Any) -> None:
        """Progress and heartbeat of a job."""
        async with self.engine.begin() as conn:
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(heartbeat=utcnow(), **values))

    async def get_job(self, job_id: int) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).first()
        return _job(row._mapping) if row else None

    async def list_jobs(self, limit: int = 100, member: str | None = None) -> list[dict[str, Any]]:
        """Jobs newest first; with ``member``, only the jobs about that member."""
        query = select(jobs).order_by(jobs.c.id.desc()).limit(limit)
        if member is not None:
            query = query.where(jobs.c.member == member)
        async with self.engine.connect() as conn:
            return [_job(r._mapping) for r in await conn.execute(query)]


async def _lock(conn: AsyncConnection, kind: str) -> None:
    # a write first: the row lock (PostgreSQL) or the write lock (SQLite) is held until commit
    await conn.execute(update(job_slots).where(job_slots.c.kind == kind).values(kind=kind))


async def _active(conn: AsyncConnection, kind: str, stale_after: float) -> list[dict[str, Any]]:
    """Queued and running jobs of ``kind``, oldest first; those of stopped processes are failed."""
    rows = await conn.execute(
        select(jobs).where(jobs.c.kind == kind, jobs.c.state.in_(ACTIVE)).order_by(jobs.c.id)
    )
    found = [_job(r._mapping) for r in rows]
    cutoff = utcnow() - timedelta(seconds=stale_after)
    alive = []
    for job in found:
        beat: datetime = job["heartbeat"]
        if beat < cutoff:
            stopped = {"state": "failed", "error": STOPPED, "finished": utcnow()}
            await conn.execute(update(jobs).where(jobs.c.id == job["id"]).values(**stopped))
            await conn.execute(
                update(job_slots)
                .where(job_slots.c.kind == kind, job_slots.c.job_id == job["id"])
                .values(job_id=None)
            )
        else:
            alive.append(job)
    return alive


def _job(row: Any) -> dict[str, Any]:
    job = dict(row)
    for name in ("created", "started", "finished", "heartbeat"):
        job[name] = aware(job[name])
    return job

"""Runs (one harvest, import or re-derivation each) and harvest state: checkpoints, the high-water
datestamp of the last complete harvest, and the last reconciliation (tables ``runs``, ``harvest_state``).
"""

from __future__ import annotations

from datetime import datetime
from types import EllipsisType
from typing import Any

from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.errors import NotFound
from schemas.member import RunReport

from .common import Tables, aware, utcnow
from .tables import harvest_state, runs


class RunTables(Tables):
    """The ``runs`` and ``harvest_state`` tables."""

    async def start_run(self, member: str, kind: str, params: dict[str, str] | None = None) -> RunReport:
        started = utcnow()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(runs).values(member=member, kind=kind, started=started, params=params or {})
            )
            key = result.inserted_primary_key  # optional in its type; a one-row INSERT always has it
            run_id = key[0] if key is not None else None
        return RunReport(id=run_id, member=member, kind=kind, started=started, params=params or {})

    async def finish_run(self, run_id: int, ok: bool, error: str | None = None) -> RunReport:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(runs).where(runs.c.id == run_id).values(finished=utcnow(), ok=ok, error=error)
            )
        return await self.get_run(run_id)

    async def get_run(self, run_id: int) -> RunReport:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.id == run_id))).first()
        if row is None:
            raise NotFound(f"no run {run_id}")
        return _run(row._mapping)

    async def list_runs(self, member: str | None = None, limit: int = 20) -> list[RunReport]:
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if member:
            query = query.where(runs.c.member == member)
        async with self.engine.connect() as conn:
            return [_run(r._mapping) for r in await conn.execute(query)]

    async def last_run(self, member: str, kind: str | None = None) -> RunReport | None:
        query = select(runs).where(runs.c.member == member).order_by(runs.c.id.desc()).limit(1)
        if kind:
            query = query.where(runs.c.kind == kind)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _run(row._mapping) if row else None

    async def count_run_pages(self, run_id: int, pages: int = 1) -> None:
        """Count a page that committed no records (e.g. an empty page or ``noRecordsMatch``)."""
        async with self.engine.begin() as conn:
            await conn.execute(update(runs).where(runs.c.id == run_id).values(pages=runs.c.pages + pages))

    # ---------------------------------------------------------- harvest state

    async def get_harvest_state(self, member: str) -> tuple[dict[str, Any] | None, datetime | None]:
        """The checkpoint of an unfinished harvest, and the high-water datestamp of the last complete one."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(harvest_state).where(harvest_state.c.member == member))).first()
        if row is None:
            return None, None
        return row.in_progress, aware(row.last_high_water)

    async def set_harvest_state(
        self,
        member: str,
        in_progress: dict[str, Any] | None,
        last_high_water: datetime | EllipsisType | None = ...,
    ) -> None:
        """Save or clear the checkpoint; pass ``last_high_water`` when a harvest completes."""
        async with self.engine.begin() as conn:
            await put_state(conn, member, in_progress, last_high_water)

    async def last_reconciled(self, member: str) -> datetime | None:
        """When ``member``'s records were last reconciled with the repository's listing (or first
        harvested completely, which is as good); ``None`` before that."""
        async with self.engine.connect() as conn:
            query = select(harvest_state.c.last_reconciled).where(harvest_state.c.member == member)
            return aware(await conn.scalar(query))

    async def set_last_reconciled(self, member: str, when: datetime) -> None:
        """Record a reconciliation (called after a harvest completes, so the state row exists)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(harvest_state).where(harvest_state.c.member == member).values(last_reconciled=when)
            )


async def put_state(
    conn: AsyncConnection,
    member: str,
    in_progress: dict[str, Any] | None,
    high_water: datetime | EllipsisType | None = ...,
) -> None:
    """Save ``member``'s checkpoint (and high-water datestamp, unless ``...``) in ``conn``'s transaction."""
    values: dict[str, Any] = {"in_progress": in_progress, "updated": utcnow()}
    if high_water is not ...:
        values["last_high_water"] = high_water
    changed = await conn.execute(
        update(harvest_state).where(harvest_state.c.member == member).values(**values)
    )
    if changed.rowcount == 0:
        await conn.execute(insert(harvest_state).values(member=member, **values))


async def count_page(conn: AsyncConnection, run_id: int, tallies: dict[str, int]) -> None:
    """Add one page and its tallies (``added``, ``updated``... as in ``runs``) to a run's counts."""
    await conn.execute(
        update(runs)
        .where(runs.c.id == run_id)
        .values(pages=runs.c.pages + 1, **{name: runs.c[name] + n for name, n in tallies.items()})
    )


def _run(row: RowMapping) -> RunReport:
    values = dict(row)
    values["started"] = aware(values["started"])
    values["finished"] = aware(values["finished"])
    values["params"] = values.get("params") or {}
    return RunReport.model_validate(values)

"""Storing a report: each month it covers is replaced whole, rows, totals and state in one transaction.

A month loaded twice (a harvest run again, a corrected file from the vendor, a file imported after a
harvest) therefore counts once: the last load wins. Months a report covers but has no rows for become
zero, as COUNTER means it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.usage import HarvestOutcome, month_key, parse_month
from store.common import utcnow
from store.sqlite_fast import executemany

from .counter import UsageRow
from .tables import usage_harvests, usage_items, usage_totals

CHUNK = 5000  # rows per INSERT statement: large enough to be fast, small enough for any driver


def monthly_totals(rows: Iterable[UsageRow]) -> dict[tuple[date, str, str], int]:
    """The sum of each metric per month and access method: what reports read."""
    totals: dict[tuple[date, str, str], int] = {}
    get = totals.get
    for row in rows:  # once per stored row: no property call, no Counter.__missing__
        attributes = row.attributes
        key = (row.month, row.metric, attributes.get("Access_Method", "") if attributes else "")
        totals[key] = get(key, 0) + row.count
    return totals


async def replace_months(
    engine: AsyncEngine,
    database: str,
    member: str,
    report_id: str,
    months: Sequence[date],
    rows: Sequence[UsageRow],
    outcome: HarvestOutcome | None = None,
) -> int:
    """Replace ``months`` of one member's report with ``rows`` (those outside ``months`` are ignored).

    ``outcome`` (its month is ignored) is recorded as the state of every replaced month; returns the
    number of rows stored.
    """
    wanted = set(months)
    kept = [r for r in rows if r.month in wanted]
    key = {"database": database, "member": member, "report_id": report_id}
    async with engine.begin() as conn:
        for table in (usage_items, usage_totals):
            await conn.execute(
                delete(table).where(
                    table.c.database == database, table.c.member == member,
                    table.c.report_id == report_id, table.c.month.in_(sorted(wanted)),
                )
            )  # fmt: skip
        await _insert_items(conn, database, member, report_id, kept)
        totals = [
            {**key, "month": month, "metric": metric, "access_method": access, "total": total}
            for (month, metric, access), total in monthly_totals(kept).items()
        ]
        await _insert_chunks(conn, usage_totals, totals)
        if outcome is not None:
            per_month = Counter(r.month for r in kept)
            for month in sorted(wanted):
                state = outcome.model_copy(update={"month": month_key(month), "rows": per_month[month]})
                await _put_outcome(conn, state)
    return len(kept)


_ITEM_COLUMNS = (
    "database", "member", "report_id", "month", "metric", "access_method", "title", "item_ids", "attributes",
    "count",
)  # fmt: skip
_INSERT_ITEMS = f"INSERT INTO usage_items ({', '.join(_ITEM_COLUMNS)}) VALUES ({', '.join('?' * 10)})"


async def _insert_items(
    conn: AsyncConnection, database: str, member: str, report_id: str, rows: list[UsageRow]
) -> None:
    """Insert the report's rows; on SQLite through the driver's ``executemany`` (as the record store
    does), since SQLAlchemy's per-row parameter handling cost more than SQLite's own work."""
    if conn.dialect.name != "sqlite":
        items = [
            dict(zip(_ITEM_COLUMNS, values, strict=True))
            for values in _item_values(database, member, report_id, rows, encode=False)
        ]
        await _insert_chunks(conn, usage_items, items)
        return
    for start in range(0, len(rows), CHUNK * 10):
        chunk = rows[start : start + CHUNK * 10]
        await executemany(
            conn, _INSERT_ITEMS, list(_item_values(database, member, report_id, chunk, encode=True))
        )


def _item_values(
    database: str, member: str, report_id: str, rows: list[UsageRow], encode: bool
) -> Iterator[tuple[Any, ...]]:
    """Each row's column values; with ``encode``, dates and JSON as SQLite stores them (SQLAlchemy's
    ``Date`` and ``JSON`` formats), each distinct dict encoded once (a report's rows share them)."""
    encoded: dict[int, str] = {}

    def as_json(value: dict[str, str] | None) -> Any:
        if value is None or not encode:
            return value
        text = encoded.get(id(value))
        if text is None:
            text = encoded[id(value)] = json.dumps(value)
        return text

    for r in rows:
        attributes = r.attributes
        access = attributes.get("Access_Method", "") if attributes else ""
        month: Any = r.month.isoformat() if encode else r.month
        yield (database, member, report_id, month, r.metric, access, r.title, as_json(r.item_ids),
               as_json(attributes), r.count)  # fmt: skip


async def record_outcome(engine: AsyncEngine, outcome: HarvestOutcome) -> None:
    """Record the state of a month that was not loaded (no_usage is loaded: see ``replace_months``)."""
    async with engine.begin() as conn:
        await _put_outcome(conn, outcome)


async def _put_outcome(conn: AsyncConnection, outcome: HarvestOutcome) -> None:
    month = parse_month(outcome.month)
    c = usage_harvests.c
    where = (
        c.database == outcome.database, c.member == outcome.member,
        c.report_id == outcome.report_id, c.month == month,
    )  # fmt: skip
    previous = await conn.scalar(select(c.attempts).where(*where))
    await conn.execute(delete(usage_harvests).where(*where))
    values = outcome.model_dump(exclude={"month", "updated"})
    values["attempts"] = (previous or 0) + max(outcome.attempts, 1)
    await conn.execute(insert(usage_harvests).values(**values, month=month, updated=utcnow()))


async def _insert_chunks(conn: AsyncConnection, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await conn.execute(insert(table), rows[start : start + CHUNK])


async def rebuild_totals(engine: AsyncEngine) -> int:
    """Recompute every monthly total from the stored rows (one ``GROUP BY``); returns the totals written.

    Loading keeps the totals up to date; this is for a store whose totals are in doubt.
    """
    i = usage_items.c
    grouped = select(
        i.database, i.member, i.report_id, i.month, i.metric, i.access_method, func.sum(i.count)
    ).group_by(i.database, i.member, i.report_id, i.month, i.metric, i.access_method)
    async with engine.begin() as conn:
        await conn.execute(delete(usage_totals))
        await conn.execute(
            insert(usage_totals).from_select(
                ["database", "member", "report_id", "month", "metric", "access_method", "total"], grouped
            )
        )
        return int(await conn.scalar(select(func.count()).select_from(usage_totals)) or 0)


async def list_outcomes(
    engine: AsyncEngine, database: str | None = None, member: str | None = None, status: str | None = None
) -> list[HarvestOutcome]:
    c = usage_harvests.c
    query = select(usage_harvests).order_by(c.database, c.member, c.report_id, c.month)
    if database:
        query = query.where(c.database == database.upper())
    if member:
        query = query.where(c.member == member.upper())
    if status:
        query = query.where(c.status == status)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [HarvestOutcome.model_validate({**r, "month": month_key(r["month"])}) for r in rows]

"""The consortium's yearly usage report, from the monthly totals.

Downloads are the ``Total_Item_Requests`` (and ``Unique_Item_Requests``) of a database's Database
Report with Regular access (or no access method given): the DR when it was loaded for that member and
month, else its DR_D1 view. They are never added across report types: a TR or PR counts the same
requests again.

Cost per download is the year's subscription cost divided by that database's requests in the year;
each member's share of the cost is the cost shared out in proportion to its requests. Across several
databases the costs are added only when they share one currency (``currency`` is null otherwise).

Beside the vendors' figures, ``lienhop`` gives Lienhop's own searches, views and link-outs of the year
per requesting member (:func:`usage.own.own_year`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.usage import (
    DOWNLOAD_REPORTS,
    DatabaseUsage,
    MemberUsage,
    MonthUsage,
    UsageCell,
    UsageDatabase,
    UsageReport,
    YearUsage,
    month_key,
)
from store.tables import members as members_table

from .own import own_year
from .registry import UsageRegistry
from .tables import usage_totals

TOTAL = "Total_Item_Requests"
UNIQUE = "Unique_Item_Requests"


@dataclass
class _Cell:
    """Downloads of one database by one member in one month."""

    total: int = 0
    unique: int = 0
    report_id: str = "DR"


@dataclass
class _Downloads:
    """Every (database, member, month) cell, each from one report only."""

    cells: dict[tuple[str, str, date], _Cell] = field(default_factory=dict)

    def years(self) -> list[int]:
        return sorted({month.year for _, _, month in self.cells})


async def load_downloads(engine: AsyncEngine, database: str | None = None) -> _Downloads:
    t = usage_totals.c
    query = (
        select(t.database, t.member, t.report_id, t.month, t.metric, func.sum(t.total))
        .where(t.report_id.in_(DOWNLOAD_REPORTS), t.metric.in_((TOTAL, UNIQUE)))
        .where(t.access_method.in_(("", "Regular")))
        .group_by(t.database, t.member, t.report_id, t.month, t.metric)
    )
    if database:
        query = query.where(t.database == database.upper())
    by_report: dict[tuple[str, str, date], dict[str, dict[str, int]]] = defaultdict(dict)
    async with engine.connect() as conn:
        for db, member, report_id, month, metric, total in await conn.execute(query):
            by_report[db, member, month].setdefault(report_id, {})[metric] = int(total or 0)
    downloads = _Downloads()
    for key, reports in by_report.items():
        source = next(r for r in DOWNLOAD_REPORTS if r in reports)
        chosen = reports[source]
        downloads.cells[key] = _Cell(chosen.get(TOTAL, 0), chosen.get(UNIQUE, 0), source)
    return downloads


def _year_usage(cells: dict[tuple[str, str, date], _Cell], year: int) -> YearUsage:
    in_year = {k: c for k, c in cells.items() if k[2].year == year}
    total = sum(c.total for c in in_year.values())
    months = len({k[2] for k in in_year})
    return YearUsage(
        year=year,
        total_item_requests=total,
        unique_item_requests=sum(c.unique for c in in_year.values()),
        months_with_data=months,
        monthly_average=round(total / months, 2) if months else None,
    )


def _by_member(item: tuple[tuple[str, str, date], _Cell]) -> tuple[str, str, date]:
    (db, code, month), _ = item
    return code, db, month


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or not before:
        return None
    return round(now / before - 1, 4)


def _cost(database: UsageDatabase, year: int) -> tuple[float, str] | None:
    for cost in database.costs:
        if cost.year == year:
            return float(cost.amount), cost.currency
    return None


async def build_report(
    engine: AsyncEngine, year: int | None = None, member: str | None = None, database: str | None = None
) -> UsageReport:
    registry = UsageRegistry(engine)
    databases = {d.code: d for d in await registry.list_databases([database] if database else None)}
    downloads = await load_downloads(engine, database)
    years = downloads.years()
    year = year or (years[-1] if years else datetime.now(UTC).year)
    member = member.upper() if member else None
    async with engine.connect() as conn:
        names = dict((await conn.execute(select(members_table.c.code, members_table.c.name_vi))).all())

    in_year = {k: c for k, c in downloads.cells.items() if k[2].year == year}
    db_totals: dict[str, int] = defaultdict(int)
    for (db, _, _), cell in in_year.items():
        db_totals[db] += cell.total

    # per member (over every member, so ranks and shares stay those of the whole consortium)
    by_member: dict[str, MemberUsage] = {}
    for (db, code, month), cell in sorted(in_year.items()):
        m = by_member.setdefault(
            code,
            MemberUsage(rank=0, code=code, name=names.get(code), total_item_requests=0,
                        unique_item_requests=0, share=0, months={}),
        )  # fmt: skip
        m.total_item_requests += cell.total
        m.unique_item_requests += cell.unique
        m.months[month_key(month)] = m.months.get(month_key(month), 0) + cell.total
        m.databases[db] = m.databases.get(db, 0) + cell.total
    consortium_total = sum(db_totals.values())
    ranked = sorted(by_member.values(), key=lambda m: (-m.total_item_requests, m.code))
    for rank, m in enumerate(ranked, start=1):
        m.rank = rank
        m.share = round(m.total_item_requests / consortium_total, 4) if consortium_total else 0.0
        shares = [
            (paid[0] * used / db_totals[db], paid[1])
            for db, used in m.databases.items()
            if db in databases and (paid := _cost(databases[db], year)) and db_totals[db]
        ]
        if shares and len({c for _, c in shares}) == 1:
            m.cost_share, m.currency = round(sum(s for s, _ in shares), 2), shares[0][1]

    scoped = {k: c for k, c in downloads.cells.items() if member is None or k[1] == member}
    scoped_year = {k: c for k, c in scoped.items() if k[2].year == year}
    months: dict[str, MonthUsage] = {}
    for (_, _, month), cell in sorted(scoped_year.items(), key=lambda kv: kv[0][2]):
        entry = months.setdefault(month_key(month), MonthUsage())
        entry.total_item_requests += cell.total
        entry.unique_item_requests += cell.unique
    this_year = _year_usage(scoped, year)
    previous = _year_usage(scoped, year - 1)
    history = [_year_usage(scoped, y) for y in sorted({k[2].year for k in scoped})]

    db_reports = []
    for code, info in sorted(databases.items()):
        cells = {k: c for k, c in scoped_year.items() if k[0] == code}
        db_months: dict[str, int] = {}
        for (_, _, month), cell in sorted(cells.items(), key=lambda kv: kv[0][2]):
            db_months[month_key(month)] = db_months.get(month_key(month), 0) + cell.total
        price = _cost(info, year)
        total = db_totals.get(code, 0)
        db_reports.append(
            DatabaseUsage(
                code=code, name=info.name, total_item_requests=sum(c.total for c in cells.values()),
                unique_item_requests=sum(c.unique for c in cells.values()), months=db_months,
                cost=price[0] if price else None, currency=price[1] if price else None,
                cost_per_download=round(price[0] / total, 4) if price and total else None,
            )
        )  # fmt: skip

    # the consortium's cost per download: the databases that have a cost, in one currency
    costed = [(code, price) for code in sorted(databases) if (price := _cost(databases[code], year))]
    cost: float | None = None
    currency: str | None = None
    per_download: float | None = None
    if costed and len({price[1] for _, price in costed}) == 1:
        currency = costed[0][1][1]
        cost = sum(price[0] for _, price in costed)
        requests = sum(db_totals.get(code, 0) for code, _ in costed)
        per_download = round(cost / requests, 4) if requests else None
    if member is not None:
        chosen = by_member.get(member)
        cost = chosen.cost_share if chosen else None
        currency = chosen.currency if chosen else currency

    return UsageReport(
        year=year, member=member, database=database.upper() if database else None,
        total_item_requests=this_year.total_item_requests,
        unique_item_requests=this_year.unique_item_requests,
        months_with_data=this_year.months_with_data, monthly_average=this_year.monthly_average,
        months=months,
        previous_year=previous if previous.months_with_data else None,
        change_monthly_average=_change(this_year.monthly_average, previous.monthly_average),
        change_total=_change(this_year.total_item_requests, previous.total_item_requests),
        cost=round(cost, 2) if cost is not None else None, currency=currency, cost_per_download=per_download,
        databases=db_reports,
        members=[m for m in ranked if member is None or m.code == member],
        history=history,
        lienhop=await own_year(engine, year, member, names),
        rows=[
            UsageCell(member=code, database=db, month=month_key(month), total_item_requests=cell.total,
                      unique_item_requests=cell.unique, report_id=cell.report_id)
            for (db, code, month), cell in sorted(scoped_year.items(), key=_by_member)
        ],
    )  # fmt: skip

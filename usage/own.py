"""Lienhop's own usage as monthly COUNTER metrics, per requesting member and per holding member.

The events (``own_usage_events``, written by :mod:`usage.events`) become, for one month and member:

- ``Searches_Platform``: searches and lookups (a lookup by ISBN, ISSN, DOI or title is a search);
- ``Total_Item_Investigations``: record and work views and link-outs (a request is also an
  investigation, as COUNTER counts it);
- ``Total_Item_Requests``: link-outs to the holding member's OPAC (``/go``);
- ``Unique_Item_Investigations`` and ``Unique_Item_Requests``: the same, each item once per session.

Events with no requesting member count for the platform (``member`` None) only.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .tables import own_events

SEARCHES = "Searches_Platform"
TOTAL_INVESTIGATIONS = "Total_Item_Investigations"
TOTAL_REQUESTS = "Total_Item_Requests"
UNIQUE_INVESTIGATIONS = "Unique_Item_Investigations"
UNIQUE_REQUESTS = "Unique_Item_Requests"
#: The Platform Report's metrics we count, in the report's order.
PR_METRICS = (SEARCHES, TOTAL_INVESTIGATIONS, TOTAL_REQUESTS, UNIQUE_INVESTIGATIONS, UNIQUE_REQUESTS)
#: PR_P1, the Platform Usage view: searches and requests only.
PR_P1_METRICS = (SEARCHES, TOTAL_REQUESTS, UNIQUE_REQUESTS)

#: member (or None) -> month -> metric -> count
MonthlyCounts = dict[str | None, dict[date, dict[str, int]]]


async def monthly_counts(
    engine: AsyncEngine,
    first: date | None = None,
    last: date | None = None,
    member: str | None = None,
    by: str = "member",
) -> MonthlyCounts:
    """COUNTER metrics per member (``by="member"``: the requesting one; ``"holder"``: the holding
    one) and month, for the months ``first``..``last`` (first days of months), optionally one member."""
    e = own_events.c
    who = e.member if by == "member" else e.holder
    kinds = select(e.month, who, e.kind, func.count(), func.count(distinct(e.unit))).group_by(
        e.month, who, e.kind
    )
    looked = select(e.month, who, func.count(distinct(e.unit))).where(e.kind.in_(("view", "request")))
    looked = looked.group_by(e.month, who)
    for condition in (
        e.month >= first if first else None,
        e.month <= last if last else None,
        who == member.upper() if member else None,
    ):
        if condition is not None:
            kinds, looked = kinds.where(condition), looked.where(condition)
    counts: MonthlyCounts = defaultdict(lambda: defaultdict(lambda: dict.fromkeys(PR_METRICS, 0)))
    async with engine.connect() as conn:
        for month, code, kind, total, unique in await conn.execute(kinds):
            cell = counts[code][month]
            if kind in ("search", "lookup"):
                cell[SEARCHES] += total
            if kind in ("view", "request"):
                cell[TOTAL_INVESTIGATIONS] += total
            if kind == "request":
                cell[TOTAL_REQUESTS] += total
                cell[UNIQUE_REQUESTS] += unique
        for month, code, unique in await conn.execute(looked):
            counts[code][month][UNIQUE_INVESTIGATIONS] = unique
    return counts


async def own_totals(engine: AsyncEngine, year: int) -> dict[str, dict[str, int]]:
    """The year's own usage per member: ``searches``, ``lookups``, ``views``, ``link_outs``,
    ``api_calls`` made for the member, and ``link_outs_to`` and ``views_of`` its records."""
    e = own_events.c
    first, last = date(year, 1, 1), date(year, 12, 1)
    totals: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("searches", "lookups", "views", "link_outs", "api_calls",
                               "views_of", "link_outs_to"), 0)
    )  # fmt: skip
    names = {"search": "searches", "lookup": "lookups", "view": "views", "request": "link_outs"}
    made = (
        select(e.member, e.kind, e.source, func.count())
        .where(e.month.between(first, last), e.member.is_not(None))
        .group_by(e.member, e.kind, e.source)
    )
    held = (
        select(e.holder, e.kind, func.count())
        .where(e.month.between(first, last), e.holder.is_not(None))
        .group_by(e.holder, e.kind)
    )
    async with engine.connect() as conn:
        for code, kind, source, count in await conn.execute(made):
            totals[code][names[kind]] += count
            if source == "api":
                totals[code]["api_calls"] += count
        for code, kind, count in await conn.execute(held):
            totals[code]["views_of" if kind == "view" else "link_outs_to"] += count
    return dict(totals)

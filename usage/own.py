"""Lienhop's own usage as monthly COUNTER metrics, per requesting member and per holding member.

The events (``own_usage_events``, written by :mod:`usage.events`) become, for one month and member:

- ``Searches_Platform``: searches and lookups (a lookup by ISBN, ISSN, DOI or title is a search);
- ``Total_Item_Investigations``: record and work views and link-outs (a request is also an
  investigation, as COUNTER counts it);
- ``Total_Item_Requests``: link-outs to the holding member's OPAC (``/go``);
- ``Unique_Item_Investigations`` and ``Unique_Item_Requests``: the same, each item once per session.

Events with no requesting member count for the platform (``member`` None) only. The figures come
from ``own_usage_monthly``, which the writer adds each batch's sums to (the unique counts: a session's
first view or request of an item, marked when it is counted), so they take the same time for a
thousand events as for ten million.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.usage import OwnCounts, OwnMemberUsage, OwnUsage, month_key

from .tables import own_monthly

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
    one; None for nobody) and month, for the months ``first``..``last`` (first days of months),
    optionally of one member. Read from the monthly sums, not the events."""
    m = own_monthly.c
    who = m.member if by == "member" else m.holder
    query = select(
        m.month, who, m.kind, func.sum(m.events), func.sum(m.first_looks), func.sum(m.first_requests)
    )
    query = query.group_by(m.month, who, m.kind)
    if first:
        query = query.where(m.month >= first)
    if last:
        query = query.where(m.month <= last)
    if member:
        query = query.where(who == member.upper())
    counts: MonthlyCounts = defaultdict(lambda: defaultdict(lambda: dict.fromkeys(PR_METRICS, 0)))
    async with engine.connect() as conn:
        for month, code, kind, events, looks, requests in await conn.execute(query):
            cell = counts[code or None][month]
            if kind in ("search", "lookup"):
                cell[SEARCHES] += int(events)
            if kind in ("view", "request"):
                cell[TOTAL_INVESTIGATIONS] += int(events)
                cell[UNIQUE_INVESTIGATIONS] += int(looks)
            if kind == "request":
                cell[TOTAL_REQUESTS] += int(events)
                cell[UNIQUE_REQUESTS] += int(requests)
    return counts


async def own_totals(engine: AsyncEngine, year: int) -> dict[str, dict[str, int]]:
    """The year's own usage per member: ``searches``, ``lookups``, ``views``, ``link_outs``,
    ``api_calls`` made for the member, and ``link_outs_to`` and ``views_of`` its records."""
    m = own_monthly.c
    in_year = m.month.between(date(year, 1, 1), date(year, 12, 1))
    totals: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("searches", "lookups", "views", "link_outs", "api_calls",
                               "views_of", "link_outs_to"), 0)
    )  # fmt: skip
    names = {"search": "searches", "lookup": "lookups", "view": "views", "request": "link_outs"}
    made = select(m.member, m.kind, m.source, func.sum(m.events)).where(in_year, m.member != "")
    held = select(m.holder, m.kind, func.sum(m.events)).where(in_year, m.holder != "")
    async with engine.connect() as conn:
        for code, kind, source, count in await conn.execute(made.group_by(m.member, m.kind, m.source)):
            totals[code][names[kind]] += int(count)
            if source == "api":
                totals[code]["api_calls"] += int(count)
        for code, kind, count in await conn.execute(held.group_by(m.holder, m.kind)):
            totals[code]["views_of" if kind == "view" else "link_outs_to"] += int(count)
    return dict(totals)


_OWN_FIELD = {"search": "searches", "lookup": "searches", "view": "views", "request": "link_outs"}


def _add(counts: OwnCounts, kind: str, n: int) -> None:
    name = _OWN_FIELD[kind]
    setattr(counts, name, getattr(counts, name) + n)


async def own_year(
    engine: AsyncEngine, year: int, member: str | None = None, names: dict[str, str] | None = None
) -> OwnUsage:
    """The usage report's part on Lienhop itself: the year's searches, views and link-outs, per month
    and per requesting member (ranked by use), with the link-outs to each member's OPAC; with
    ``member``, that member's only."""
    m = own_monthly.c
    in_year = m.month.between(date(year, 1, 1), date(year, 12, 1))
    made = select(m.month, m.member, m.kind, m.source, func.sum(m.events)).where(in_year)
    if member:
        made = made.where(m.member == member.upper())
    held = select(m.holder, func.sum(m.events)).where(in_year, m.holder != "", m.kind == "request")
    usage = OwnUsage()
    by_member: dict[str, OwnMemberUsage] = {}
    async with engine.connect() as conn:
        for month, code, kind, source, count in await conn.execute(
            made.group_by(m.month, m.member, m.kind, m.source)
        ):
            n, key = int(count), month_key(month)
            _add(usage, kind, n)
            _add(usage.months.setdefault(key, OwnCounts()), kind, n)
            if not code:
                continue
            entry = by_member.setdefault(code, OwnMemberUsage(code=code, name=(names or {}).get(code)))
            _add(entry, kind, n)
            _add(entry.months.setdefault(key, OwnCounts()), kind, n)
            if source == "api":
                entry.api_calls += n
        for code, count in await conn.execute(held.group_by(m.holder)):
            if member is None or code == member.upper():
                entry = by_member.setdefault(code, OwnMemberUsage(code=code, name=(names or {}).get(code)))
                entry.link_outs_to = int(count)
    usage.months = dict(sorted(usage.months.items()))
    usage.members = sorted(
        by_member.values(), key=lambda e: (-(e.searches + e.views + e.link_outs), -e.link_outs_to, e.code)
    )
    for entry in usage.members:
        entry.months = dict(sorted(entry.months.items()))
    return usage

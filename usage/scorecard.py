"""The member scorecard: per member and year, how it meets the consortium's obligations.

- **Records shared**, from the store's ``records`` table and its change times: live at the year's end
  (first seen before it, and not withdrawn, or withdrawn only after it), added in the year (first
  seen), withdrawn in the year (tombstones whose last change falls in it).
- **Freshness**, from ``runs`` (harvests only): the last harvest that succeeded up to the year's end,
  the share of the year's harvests that succeeded (of all, and of those the server's scheduler
  started, which an admin's tries while fixing a repository do not skew), and the days of the year on
  which the member's latest harvest had failed (from a failure to the next success, or to the year's
  end or now).
- **Quarantine rate**: records quarantined over records read, by the year's harvests and imports.
- **Use**: downloads from the shared databases (the DR's ``Total_Item_Requests``, as the usage
  report counts them) and Lienhop's own usage (:func:`usage.own.own_totals`).
- **Observers**: the date they become eligible for membership (``schemas.member``).

Ranked by records live at the year's end, then by the share of harvests that succeeded; each member
carries the same figures for the year before (``previous``), so years compare side by side.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.member import Member
from schemas.usage import Scorecard, ScorecardFigures, ScorecardMember
from store.members import member_from_row
from store.tables import members as members_table
from store.tables import records, runs

from .own import own_totals
from .report import load_downloads

_DAY = 86400.0


def _bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


async def _records(engine: AsyncEngine, year: int) -> dict[str, dict[str, int]]:
    start, end = _bounds(year)
    r = records.c
    live = and_(r.first_seen < end, or_(r.deleted.is_(False), r.updated >= end))
    query = select(
        r.member,
        func.sum(case((live, 1), else_=0)),
        func.sum(case((and_(r.first_seen >= start, r.first_seen < end), 1), else_=0)),
        func.sum(case((and_(r.deleted.is_(True), r.updated >= start, r.updated < end), 1), else_=0)),
    ).group_by(r.member)
    async with engine.connect() as conn:
        return {
            code: {
                "records_active": int(a or 0),
                "records_added": int(b or 0),
                "records_deleted": int(c or 0),
            }
            for code, a, b, c in await conn.execute(query)
        }


@dataclass
class _Harvests:
    harvests: int = 0
    harvests_succeeded: int = 0
    scheduled_harvests: int = 0
    scheduled_harvests_succeeded: int = 0
    last_successful_harvest: datetime | None = None
    records_processed: int = 0
    quarantined: int = 0
    days_failing: float = 0.0
    failing_since: datetime | None = None  # the first failure after a success, while failing


async def _runs(engine: AsyncEngine, year: int, now: datetime) -> dict[str, _Harvests]:
    """Harvest counts, last success, days failing and records read and quarantined, per member."""
    start, end = _bounds(year)
    c = runs.c
    query = (
        select(c.member, c.kind, c.started, c.finished, c.ok, c.added, c.updated, c.deleted, c.unchanged,
               c.quarantined, c.params)
        .where(c.started < end)
        .order_by(c.member, c.started, c.id)
    )  # fmt: skip
    found: dict[str, _Harvests] = defaultdict(_Harvests)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    for code, kind, started, finished, ok, added, updated, deleted, unchanged, quarantined, params in rows:
        figures = found[code]
        in_year = started >= start
        if in_year:
            figures.records_processed += added + updated + deleted + unchanged + quarantined
            figures.quarantined += quarantined
        if kind != "harvest" or ok is None:  # an import, or a harvest still running
            continue
        when = finished or started
        if in_year:
            figures.harvests += 1
            figures.harvests_succeeded += 1 if ok else 0
            if (params or {}).get("scheduled") == "true":  # see harvesters.runner.harvest_members
                figures.scheduled_harvests += 1
                figures.scheduled_harvests_succeeded += 1 if ok else 0
        if ok:
            figures.last_successful_harvest = when
            if figures.failing_since is not None:
                figures.days_failing += _overlap(figures.failing_since, when, start, end)
                figures.failing_since = None
        elif figures.failing_since is None:
            figures.failing_since = when
    for figures in found.values():
        if figures.failing_since is not None:  # still failing at the year's end, or now
            figures.days_failing += _overlap(figures.failing_since, min(now, end), start, end)
        figures.days_failing = round(figures.days_failing, 1)
    return found


def _overlap(a: datetime, b: datetime, start: datetime, end: datetime) -> float:
    low, high = max(a, start), min(b, end)
    return max((high - low).total_seconds(), 0.0) / _DAY


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def _figures(engine: AsyncEngine, year: int, now: datetime) -> dict[str, ScorecardFigures]:
    shared, harvests = await _records(engine, year), await _runs(engine, year, now)
    own = await own_totals(engine, year)
    downloads: dict[str, int] = defaultdict(int)
    for (_, code, month), cell in (await load_downloads(engine)).cells.items():
        if month.year == year:
            downloads[code] += cell.total
    codes = set(shared) | set(harvests) | set(own) | set(downloads)
    result = {}
    for code in codes:
        run = harvests.get(code, _Harvests())
        used = own.get(code, {})
        figures = ScorecardFigures.model_validate(
            {**shared.get(code, {}), **asdict(run), "database_downloads": downloads.get(code, 0)}
        )
        figures.harvest_success_share = _share(figures.harvests_succeeded, figures.harvests)
        figures.scheduled_success_share = _share(
            figures.scheduled_harvests_succeeded, figures.scheduled_harvests
        )
        figures.quarantine_rate = _share(figures.quarantined, figures.records_processed)
        figures.lienhop_searches = used.get("searches", 0) + used.get("lookups", 0)
        figures.lienhop_views = used.get("views", 0)
        figures.lienhop_link_outs = used.get("link_outs", 0)
        figures.lienhop_api_calls = used.get("api_calls", 0)
        figures.link_outs_to_member = used.get("link_outs_to", 0)
        result[code] = figures
    return result


async def build_scorecard(
    engine: AsyncEngine, year: int | None = None, now: datetime | None = None
) -> Scorecard:
    """Every registered member's scorecard for ``year`` (default: this year), ranked."""
    now = now or datetime.now(UTC)
    year = year or now.year
    async with engine.connect() as conn:
        rows = (await conn.execute(select(members_table).order_by(members_table.c.code))).all()
    registered: list[Member] = [member_from_row(row._mapping) for row in rows]
    this, before = await _figures(engine, year, now), await _figures(engine, year - 1, now)
    cards = []
    for member in registered:
        figures = this.get(member.code, ScorecardFigures())
        cards.append(
            ScorecardMember(
                rank=0, code=member.code, name=member.name_vi, status=member.status,
                eligible_for_membership=member.eligible_for_membership(),
                previous=before.get(member.code), **figures.model_dump(),
            )
        )  # fmt: skip
    cards.sort(key=lambda c: (-c.records_active, -(c.harvest_success_share or 0), c.code))
    for rank, card in enumerate(cards, 1):
        card.rank = rank
    return Scorecard(year=year, members=cards)

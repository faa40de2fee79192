"""Importing a COUNTER report file (JSON or TSV/CSV) a member downloaded from a vendor's admin site."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.errors import NotFound
from schemas.usage import KNOWN_REPORTS, CounterFormatError, HarvestOutcome, ImportResult, month_key
from store.tables import members

from .counter import read_report
from .loading import replace_months
from .outcomes import judge
from .registry import UsageRegistry


async def import_report(engine: AsyncEngine, database: str, member: str, data: bytes) -> ImportResult:
    """Load a report file for one member of one database; each month it covers replaces what was stored."""
    found = await UsageRegistry(engine).get_database(database)
    member = member.upper()
    async with engine.connect() as conn:
        if not await conn.scalar(select(members.c.code).where(members.c.code == member)):
            raise NotFound(f"no member with code {member!r}")
    report = read_report(data)
    verdict = judge(report, 200)
    if verdict.state not in {"ok", "no_usage"}:
        raise CounterFormatError(
            f"the file holds no usage but the exception {verdict.message or verdict.state}"
        )
    if report.report_id not in KNOWN_REPORTS:
        raise CounterFormatError(
            f"report {report.report_id!r} is not one Lienhop reads ({', '.join(KNOWN_REPORTS)})"
        )
    if not report.release.startswith("5"):
        raise CounterFormatError(f"COUNTER release {report.release!r}: only R5 and R5.1 are read")
    months = report.months()
    if not months:
        raise CounterFormatError("the report covers no month (no reporting period and no rows)")
    outcome = HarvestOutcome(
        database=found.code, member=member, report_id=report.report_id, month=month_key(months[0]),
        status=verdict.state, code=verdict.code, message=verdict.message, source="file",
    )  # fmt: skip
    rows = await replace_months(engine, found.code, member, report.report_id, months, report.rows, outcome)
    return ImportResult(
        database=found.code, member=member, report_id=report.report_id, release=report.release,
        months=[month_key(m) for m in months], rows=rows, exceptions=[str(e) for e in report.exceptions],
    )  # fmt: skip

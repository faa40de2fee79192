"""A usage harvest: every shared database, every member with credentials, every report, every month.

One request per member, report and month, so each month gets its own state (a vendor answers 3031
for the last month while the others are ready). Databases are harvested side by side; the members of
one database one after the other, since they all ask the same vendor's server. Nothing a server
answers stops the run: each outcome is recorded (:mod:`usage.outcomes`) and the run goes on.

The leader's scheduler (``app/scheduler.py``) runs the same harvest without a range once a month has
become due (:func:`last_due_month`), with a :class:`Backoff`: a month answered 3031 (not yet
available), 1011 (queued), refused or failed rests that long before it is asked again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.errors import InvalidInput
from schemas.progress import NullProgress, ProgressSink
from schemas.settings import Settings
from schemas.usage import CounterFormatError, HarvestOutcome, HarvestSummary, UsageDatabase, month_key

from .counter import CounterReport, UsageRow, read_report
from .loading import list_outcomes, record_outcome, replace_months
from .outcomes import DONE, Verdict, judge
from .registry import Credentials, UsageRegistry
from .sushi import SushiClient, SushiTransportError

DEFAULT_MONTHS = 12  # a harvest without --from asks for the 12 months up to the last complete one


def add_months(day: date, n: int) -> date:
    index = day.year * 12 + day.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_range(first: date, last: date) -> list[date]:
    if first > last:
        raise InvalidInput(f"--from {month_key(first)} is after --to {month_key(last)}")
    months, day = [], first
    while day <= last:
        months.append(day)
        day = add_months(day, 1)
    return months


def default_range(first: date | None, last: date | None, today: date | None = None) -> list[date]:
    today = today or datetime.now(UTC).date()
    last = last or add_months(today.replace(day=1), -1)
    return month_range(first or add_months(last, 1 - DEFAULT_MONTHS), last)


def last_due_month(today: date, day: int) -> date:
    """The latest month a scheduled harvest asks for: last month from ``day`` of this month on, else
    the month before (vendors publish a month's usage some days after it ends; COUNTER allows them
    until the 28th)."""
    this_month = today.replace(day=1)
    return add_months(this_month, -1 if today.day >= day else -2)


@dataclass(frozen=True)
class Backoff:
    """How long a month that was not loaded rests before a scheduled harvest asks for it again."""

    after: timedelta
    now: datetime

    def rested(self, outcome: HarvestOutcome, credentials: Credentials) -> bool:
        if outcome.updated is None or outcome.updated + self.after <= self.now:
            return True
        # credentials set since the last answer (say, after a 2020 invalid key): no reason to wait
        return credentials.updated is not None and credentials.updated > outcome.updated


@dataclass
class _Answer:
    verdict: Verdict
    rows: list[UsageRow]
    attempts: int


class UsageHarvest:
    """One run. ``explicit`` (a range was given) asks for every month again; otherwise months already
    loaded (``ok``, ``no_usage``) or refused for good (``unsupported``) are skipped."""

    def __init__(
        self, engine: AsyncEngine, settings: Settings, sink: ProgressSink | None = None,
        client: SushiClient | None = None, backoff: Backoff | None = None,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.settings = settings
        self.sink = sink or NullProgress()
        self._given = client  # a client given is the caller's to close; ours lives for one run
        self.client = client
        self.registry = UsageRegistry(engine)
        self.backoff = backoff  # None: a month not loaded is asked again by every run

    async def run(
        self, codes: list[str] | None, first: date | None = None, last: date | None = None
    ) -> list[HarvestSummary]:
        explicit = first is not None or last is not None
        return await self.run_months(codes, default_range(first, last), explicit)

    async def due(self, months: list[date]) -> list[str]:
        """The databases with a month to ask for among ``months`` (not loaded, or rested enough)."""
        due = []
        for database in await self.registry.list_databases():
            if any(wanted for _, wanted in await self.pending(database, months, explicit=False)):
                due.append(database.code)
        return due

    async def run_months(
        self, codes: list[str] | None, months: list[date], explicit: bool
    ) -> list[HarvestSummary]:
        """Harvest ``months`` of the databases ``codes`` (all when None): every month when
        ``explicit``, else those not loaded yet (and rested enough, with a back-off)."""
        databases = await self.registry.list_databases(codes or None)
        gate = asyncio.Semaphore(self.settings.harvest_concurrency)

        async def one(database: UsageDatabase) -> list[HarvestSummary]:
            async with gate:
                return await self._database(database, months, explicit)

        own = SushiClient(self.settings) if self._given is None else None
        self.client = self._given or own
        try:
            results = await asyncio.gather(*(one(db) for db in databases))
        finally:
            if own is not None:
                await own.close()
                self.client = None
        return [summary for result in results for summary in result]

    async def _database(
        self, database: UsageDatabase, months: list[date], explicit: bool
    ) -> list[HarvestSummary]:
        return [
            await self._member(database, credentials, wanted)
            for credentials, wanted in await self.pending(database, months, explicit)
        ]

    async def pending(
        self, database: UsageDatabase, months: list[date], explicit: bool
    ) -> list[tuple[Credentials, list[tuple[str, date]]]]:
        """Each member's (report, month) pairs to ask for."""
        known: dict[tuple[str, str, str], HarvestOutcome] = {}
        if not explicit:
            outcomes = await list_outcomes(self.engine, database.code)
            known = {(o.member, o.report_id, o.month): o for o in outcomes}
        found: list[tuple[Credentials, list[tuple[str, date]]]] = []
        for credentials in await self.registry.credentials(database.code):
            if self._resting_refusal(known.values(), credentials):
                found.append((credentials, []))  # its other months would be refused the same way
                continue
            wanted = [
                (report_id, month)
                for report_id in database.reports
                for month in months
                if self._asks(known.get((credentials.member, report_id, month_key(month))), credentials)
            ]
            found.append((credentials, wanted))
        return found

    def _resting_refusal(self, outcomes: Iterable[HarvestOutcome], credentials: Credentials) -> bool:
        """Whether the member's credentials were refused within the back-off."""
        backoff = self.backoff
        return backoff is not None and any(
            o.member == credentials.member and o.status == "unauthorized"
            and not backoff.rested(o, credentials)
            for o in outcomes
        )  # fmt: skip

    def _asks(self, outcome: HarvestOutcome | None, credentials: Credentials) -> bool:
        if outcome is None:
            return True
        if outcome.status in DONE:
            return False
        return self.backoff is None or self.backoff.rested(outcome, credentials)

    async def _member(
        self, database: UsageDatabase, credentials: Credentials, wanted: list[tuple[str, date]]
    ) -> HarvestSummary:
        task = f"{database.code}/{credentials.member}"
        summary = HarvestSummary(database=database.code, member=credentials.member)
        self.sink.begin(task, total=len(wanted))
        refused: set[str] = set()
        stopped = ""
        for report_id, month in wanted:
            if stopped or report_id in refused:
                self.sink.advance(task)
                continue
            answer = await self._ask(database, credentials, report_id, month)
            outcome = HarvestOutcome(
                database=database.code, member=credentials.member, report_id=report_id,
                month=month_key(month), status=answer.verdict.state, code=answer.verdict.code,
                message=answer.verdict.message, attempts=answer.attempts,
            )  # fmt: skip
            if answer.verdict.state in {"ok", "no_usage"}:
                stored = await replace_months(
                    self.engine, database.code, credentials.member, report_id, [month], answer.rows, outcome
                )
                summary.rows += stored
                outcome.rows = stored
            else:
                await record_outcome(self.engine, outcome)
            summary.counts[outcome.status] = summary.counts.get(outcome.status, 0) + 1
            if outcome.status not in {"ok", "no_usage"}:
                summary.problems.append(outcome)
            if outcome.status == "unauthorized":
                # the same credentials would be refused for every other month: do not insist
                stopped = f"stopped after {outcome.code} for {report_id} {outcome.month}"
            elif outcome.status == "unsupported":
                refused.add(report_id)
            self.sink.advance(task)
        failed = [p for p in summary.problems if p.status in {"unauthorized", "error"}]
        message = stopped or (f"{len(failed)} failed" if failed else f"{summary.rows} rows")
        self.sink.end(task, ok=not failed, message=message)
        return summary

    async def _ask(
        self, database: UsageDatabase, credentials: Credentials, report_id: str, month: date
    ) -> _Answer:
        """Ask until the answer is final or the retries are spent (busy servers, 1011, 5xx, timeouts)."""
        attempt = 0
        while True:
            attempt += 1
            wait: float | None = None
            report: CounterReport | None = None
            try:
                assert self.client is not None, "asked outside run()"
                answer = await self.client.get_report(database, credentials, report_id, month)
            except SushiTransportError as exc:
                verdict = Verdict("error", None, str(exc), retry_now=True)
            else:
                wait = answer.retry_after
                try:
                    report = read_report(answer.body) if answer.body.strip() else None
                except CounterFormatError as exc:
                    report = None
                    if answer.status < 400:
                        verdict = Verdict("error", None, f"unreadable COUNTER answer: {exc.detail}")
                        return _Answer(verdict, [], attempt)
                verdict = judge(report, answer.status)
            if not verdict.retry_now or attempt > self.settings.max_retries:
                rows = report.rows if report is not None and verdict.state == "ok" else []
                return _Answer(verdict, rows, attempt)
            backoff = self.settings.backoff_base * 2 ** (attempt - 1)
            await asyncio.sleep(min(wait if wait is not None else backoff, self.settings.max_retry_after))

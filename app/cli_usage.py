"""``lienhop usage``: shared databases, SUSHI credentials, usage harvests and imports, the usage report.

The plumbing (settings, opening the store, one-line errors) is ``app.cli``'s, imported when a command
runs: ``app.cli`` imports this module to register it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import typer
from pydantic import SecretStr, ValidationError
from rich.table import Table

from schemas.errors import LienhopError, validation_message
from schemas.usage import (
    CredentialsSet,
    HarvestSummary,
    Scorecard,
    UsageCost,
    UsageDatabaseCreate,
    UsageReport,
    parse_month,
)

from .context import AppContext

T = TypeVar("T")

usage_cli = typer.Typer(help="Usage of the shared databases (COUNTER R5 through SUSHI) and its report.",
                        no_args_is_help=True)  # fmt: skip
databases_cli = typer.Typer(help="Register shared databases and their yearly costs.", no_args_is_help=True)
usage_cli.add_typer(databases_cli, name="databases")


def _fail(message: str) -> NoReturn:
    from .cli_common import fail

    fail(message)


def _run(work: Callable[[AppContext], Awaitable[T]]) -> T:
    from .cli_common import run

    return run(work, with_search=False)


def _print(*things: Any) -> None:
    from .cli_common import console

    console.print(*things)


def _validated(build: Callable[[], T]) -> T:
    try:
        return build()
    except ValidationError as exc:
        _fail(validation_message(exc))
    except LienhopError as exc:
        _fail(exc.detail)


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        _fail(f"amount {text!r} is not a number")


# ---------------------------------------------------------------------------- databases


@databases_cli.command("add")
def databases_add(
    code: Annotated[str, typer.Argument(help="Short code, e.g. SCIENCEDIRECT")],
    name: Annotated[str, typer.Option("--name", help="The database's name")],
    sushi_url: Annotated[str, typer.Option("--sushi-url", help="SUSHI base URL (/reports/dr is appended)")],
    release: Annotated[str, typer.Option("--release", help="COUNTER release: 5 or 5.1")] = "5",
    reports: Annotated[
        list[str] | None, typer.Option("--report", help="Report to harvest (repeatable; default DR, TR, PR)")
    ] = None,
    cost: Annotated[str | None, typer.Option("--cost", help="Subscription cost of --year")] = None,
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217 code")] = "USD",
    year: Annotated[int | None, typer.Option("--year", help="Year of --cost (default: this year)")] = None,
) -> None:
    """Register a shared database and where its SUSHI server is."""
    fields: dict[str, Any] = {"code": code, "name": name, "sushi_url": sushi_url, "release": release}
    if reports:
        fields["reports"] = reports
    new = _validated(lambda: UsageDatabaseCreate.model_validate(fields))
    price = None
    if cost is not None:
        amount, when = _amount(cost), year or datetime.now(UTC).year
        price = _validated(lambda: UsageCost(year=when, amount=amount, currency=currency))

    async def work(ctx: AppContext) -> Any:
        from usage.registry import UsageRegistry

        return await UsageRegistry(ctx.store.engine).add_database(new, price)

    added = _run(work)
    _print(f"Added {added.code} ({added.name}), COUNTER R{added.release}: {', '.join(added.reports)}")


@databases_cli.command("cost")
def databases_cost(
    code: str,
    year: Annotated[int, typer.Option("--year")],
    amount: Annotated[str, typer.Option("--amount")],
    currency: Annotated[str, typer.Option("--currency")] = "USD",
) -> None:
    """Set a database's subscription cost for one year (replaces that year's cost)."""
    value = _amount(amount)
    price = _validated(lambda: UsageCost(year=year, amount=value, currency=currency))

    async def work(ctx: AppContext) -> Any:
        from usage.registry import UsageRegistry

        return await UsageRegistry(ctx.store.engine).set_cost(code, price)

    database = _run(work)
    _print(f"{database.code}: {price.year} costs {price.amount} {price.currency}")


@databases_cli.command("list")
def databases_list() -> None:
    """Shared databases, their costs and the members with credentials."""

    async def work(ctx: AppContext) -> Any:
        from usage.registry import UsageRegistry

        return await UsageRegistry(ctx.store.engine).list_databases()

    table = Table(title="Shared databases")
    for column in ("code", "name", "release", "reports", "costs", "members", "SUSHI"):
        table.add_column(column, overflow="fold")
    for db in _run(work):
        costs = ", ".join(f"{c.year}: {c.amount} {c.currency}" for c in db.costs)
        table.add_row(
            db.code, db.name, db.release, " ".join(db.reports), costs, " ".join(db.members), db.sushi_url
        )
    _print(table)


# ---------------------------------------------------------------------------- credentials


@usage_cli.command("credentials")
def credentials(
    database: str,
    member: str,
    customer_id: Annotated[str, typer.Option("--customer-id", help="The customer ID the vendor gave")],
    requestor_id: Annotated[str | None, typer.Option("--requestor-id")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="The API key, or - to read it from stdin")
    ] = None,
) -> None:
    """Store a member's SUSHI credentials for a database (never shown again, never logged)."""
    if api_key == "-":
        api_key = sys.stdin.readline().strip()
        if not api_key:
            _fail("--api-key -: nothing was read from standard input")
    given = _validated(
        lambda: CredentialsSet(
            customer_id=SecretStr(customer_id),
            requestor_id=SecretStr(requestor_id) if requestor_id else None,
            api_key=SecretStr(api_key) if api_key else None,
        )
    )

    async def work(ctx: AppContext) -> Any:
        from usage.registry import UsageRegistry

        return await UsageRegistry(ctx.store.engine).set_credentials(database, member, given)

    saved = _run(work)
    parts = ["customer ID", *(["requestor ID"] if saved.has_requestor_id else []),
             *(["API key"] if saved.has_api_key else [])]  # fmt: skip
    _print(f"Saved the SUSHI credentials of {saved.member} for {saved.database} ({', '.join(parts)})")


# ---------------------------------------------------------------------------- harvest & import


@usage_cli.command("harvest")
def harvest(
    databases: Annotated[list[str] | None, typer.Argument(help="Database codes (default: all)")] = None,
    first: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM")] = None,
) -> None:
    """Harvest COUNTER reports through SUSHI, per member and month; exit 1 when a member failed.

    Without --from/--to: the 12 months up to last month, skipping months already loaded. With them:
    every month of the range, each replacing what was stored.
    """
    begin = _validated(lambda: parse_month(first)) if first else None
    end = _validated(lambda: parse_month(last)) if last else None

    async def work(ctx: AppContext) -> list[HarvestSummary]:
        from usage.harvest import UsageHarvest

        from .cli_common import console
        from .progress import terminal_progress

        with terminal_progress(console) as sink:
            return await UsageHarvest(ctx.store.engine, ctx.settings, sink).run(databases, begin, end)

    summaries = _run(work)
    table = Table(title="Usage harvest")
    for column in (
        "database",
        "member",
        "ok",
        "no usage",
        "not ready",
        "queued",
        "refused",
        "errors",
        "rows",
    ):
        table.add_column(column, justify="left" if column in {"database", "member"} else "right")
    table.add_column("problem", overflow="fold")
    for s in summaries:
        c = s.counts
        first_problem = next((f"{p.report_id} {p.month}: {p.status} {p.message}" for p in s.problems), "")
        table.add_row(
            s.database, s.member, str(c.get("ok", 0)), str(c.get("no_usage", 0)), str(c.get("not_ready", 0)),
            str(c.get("queued", 0)), str(c.get("unauthorized", 0) + c.get("unsupported", 0)),
            str(c.get("error", 0)), str(s.rows), first_problem,
        )  # fmt: skip
    _print(table)
    if any(s.failed for s in summaries):
        raise typer.Exit(1)


@usage_cli.command("import")
def import_(database: str, member: str, file: Path) -> None:
    """Import a COUNTER R5/R5.1 report file (JSON, TSV or CSV); its months replace the stored ones."""
    if not file.is_file():
        _fail(f"no such file: {file}")
    data = file.read_bytes()

    async def work(ctx: AppContext) -> Any:
        from usage.importer import import_report

        return await import_report(ctx.store.engine, database, member, data)

    result = _run(work)
    months = f"{result.months[0]}..{result.months[-1]}" if len(result.months) > 1 else result.months[0]
    what = f"{result.report_id} (R{result.release}) {months}"
    _print(f"{result.member} {result.database}: {what}, {result.rows} rows")
    for exception in result.exceptions:
        _print(f"  exception {exception}")


@usage_cli.command("status")
def status(
    database: Annotated[str | None, typer.Argument(help="Only this database")] = None,
    member: Annotated[str | None, typer.Option("--member")] = None,
    problems: Annotated[bool, typer.Option("--problems", help="Only months not loaded")] = False,
) -> None:
    """The state of every harvested month (ok, no_usage, not_ready, queued, unauthorized, ...)."""

    async def work(ctx: AppContext) -> Any:
        from usage.loading import list_outcomes

        return await list_outcomes(ctx.store.engine, database, member)

    table = Table(title="Usage months")
    for column in (
        "database",
        "member",
        "report",
        "month",
        "state",
        "code",
        "rows",
        "tries",
        "from",
        "message",
    ):
        table.add_column(column, overflow="fold")
    for o in _run(work):
        if problems and o.status in {"ok", "no_usage"}:
            continue
        table.add_row(
            o.database, o.member, o.report_id, o.month, o.status, str(o.code or ""), str(o.rows),
            str(o.attempts), o.source, o.message,
        )  # fmt: skip
    _print(table)


# ---------------------------------------------------------------------------- report


@usage_cli.command("report")
def report(
    year: Annotated[int | None, typer.Option("--year", help="Default: the latest year with data")] = None,
    member: Annotated[str | None, typer.Option("--member")] = None,
    database: Annotated[str | None, typer.Option("--database")] = None,
    fmt: Annotated[Literal["table", "csv", "json"], typer.Option("--format")] = "table",
) -> None:
    """Downloads per member and month, totals, monthly average, year-on-year change, cost per download."""

    async def work(ctx: AppContext) -> UsageReport:
        from usage.report import build_report

        return await build_report(ctx.store.engine, year, member, database)

    result = _run(work)
    if fmt == "json":
        sys.stdout.write(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == "csv":
        from usage.render import report_csv

        sys.stdout.write(report_csv(result))
        return
    _print(_report_table(result))
    _print(_summary_line(result))
    if result.lienhop.members:
        _print(_own_table(result))


def _report_table(result: UsageReport) -> Table:
    months = [f"{result.year:04d}-{m:02d}" for m in range(1, 13)]
    table = Table(title=f"Downloads (Total_Item_Requests) {result.year}")
    table.add_column("#", justify="right")
    table.add_column("member")
    for month in months:
        table.add_column(month[5:], justify="right")
    table.add_column("total", justify="right")
    table.add_column("share", justify="right")
    table.add_column("cost share", justify="right")
    for m in result.members:
        cost = f"{m.cost_share:,.2f} {m.currency}" if m.cost_share is not None else ""
        cells = [f"{m.months[x]:,}" if x in m.months else "" for x in months]
        table.add_row(str(m.rank), m.code, *cells, f"{m.total_item_requests:,}", f"{m.share:.1%}", cost)
    totals = [f"{result.months[x].total_item_requests:,}" if x in result.months else "" for x in months]
    table.add_row("", "[b]all[/b]", *totals, f"[b]{result.total_item_requests:,}[/b]", "", "")
    return table


def _own_table(result: UsageReport) -> Table:
    """Lienhop's own use per requesting member, beside the vendors' figures."""
    table = Table(title=f"Use of Lienhop {result.year}")
    for column in ("member", "searches", "views", "link-outs", "link-outs to its OPAC", "API calls"):
        table.add_column(column, justify="left" if column == "member" else "right")
    for m in result.lienhop.members:
        figures = (m.searches, m.views, m.link_outs, m.link_outs_to, m.api_calls)
        table.add_row(m.code, *(f"{n:,}" for n in figures))
    own = result.lienhop
    if result.member is None:
        table.add_row("[b]all[/b]", f"{own.searches:,}", f"{own.views:,}", f"{own.link_outs:,}", "", "")
    return table


def _summary_line(result: UsageReport) -> str:
    parts = [f"{result.total_item_requests:,} downloads ({result.unique_item_requests:,} unique)"]
    if result.monthly_average is not None:
        parts.append(f"{result.monthly_average:,.0f} a month over {result.months_with_data} month(s)")
    if result.previous_year and result.change_monthly_average is not None:
        parts.append(
            f"{result.change_monthly_average:+.1%} on {result.previous_year.year} "
            f"({result.previous_year.monthly_average or 0:,.0f} a month)"
        )
    if result.cost_per_download is not None:
        parts.append(f"{result.cost_per_download:,.4f} {result.currency} per download")
    return "; ".join(parts)


@usage_cli.command("scorecard")
def scorecard(
    year: Annotated[int | None, typer.Option("--year", help="Default: this year")] = None,
    fmt: Annotated[Literal["table", "csv", "json"], typer.Option("--format")] = "table",
) -> None:
    """Per member: records shared, harvest freshness, quarantine rate, use; ranked, with last year's."""

    async def work(ctx: AppContext) -> Scorecard:
        from usage.scorecard import build_scorecard

        return await build_scorecard(ctx.store.engine, year)

    card = _run(work)
    if fmt == "json":
        sys.stdout.write(json.dumps(card.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == "csv":
        from usage.scorecard_render import scorecard_csv

        sys.stdout.write(scorecard_csv(card))
        return
    table = Table(title=f"Member scorecard {card.year} (in brackets: {card.year - 1})")
    headings = ("#", "member", "records", "added", "withdrawn", "last good harvest", "harvests ok",
                "days failing", "quarantine", "downloads", "searches", "link-outs", "eligible")  # fmt: skip
    for heading in headings:
        table.add_column(heading, justify="left" if heading in ("member", "last good harvest") else "right")
    for m in card.members:
        before = m.previous
        last = m.last_successful_harvest.strftime("%Y-%m-%d") if m.last_successful_harvest else "-"
        table.add_row(
            str(m.rank), m.code, _with_previous(m.records_active, before.records_active if before else None),
            f"{m.records_added:,}", f"{m.records_deleted:,}", last, _percent(m.harvest_success_share),
            f"{m.days_failing:g}", _percent(m.quarantine_rate),
            _with_previous(m.database_downloads, before.database_downloads if before else None),
            f"{m.lienhop_searches:,}", f"{m.lienhop_link_outs:,}", str(m.eligible_for_membership or ""),
        )  # fmt: skip
    _print(table)


def _with_previous(value: int, previous: int | None) -> str:
    return f"{value:,} ({previous:,})" if previous is not None else f"{value:,}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"

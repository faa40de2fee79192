"""The ``lienhop`` command: serve the API, set up the demo, manage members, harvest, import, search.

Bad input (an unknown prefix, a non-http URL, a duplicate code, a malformed query) prints one line
on stderr and exits 2; a harvest in which any member failed exits 1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from harvesters.outbound import check_member_url
from harvesters.probe import check_member
from schemas.errors import LienhopError, validation_message
from schemas.member import MemberCreate, MemberStatusReport, MemberUpdate, RunReport
from schemas.probe import ProbeReport
from schemas.search import SearchRequest
from schemas.settings import Settings

from . import operations
from .catalog import (
    IdentifierKind,
    LookupResult,
    MemberUpdated,
    lookup_identifier,
    lookup_title,
    member_status,
    member_statuses,
    update_member,
)
from .cli_keys import keys_cli
from .cli_usage import usage_cli
from .cli_works import works_cli
from .context import AppContext, open_context
from .progress import terminal_progress

T = TypeVar("T")

cli = typer.Typer(
    name="lienhop",
    help="Lienhop: union catalogue of the Vietnam Library Consortium on S&T information.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
members_cli = typer.Typer(help="Register and inspect consortium members.", no_args_is_help=True)
cli.add_typer(members_cli, name="members")
cli.add_typer(works_cli, name="works")
cli.add_typer(usage_cli, name="usage")
cli.add_typer(keys_cli, name="keys")

# Pipes and logs get wide lines rather than rich's 80-column default, so summary tables stay readable.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 300)


# ---------------------------------------------------------------------------- plumbing


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit."""
    errors.print(f"error: {message}", markup=False, soft_wrap=True)
    raise typer.Exit(code)


def load_settings(**overrides: Any) -> Settings:
    """The one Settings object of a CLI run (environment, ``.env``, then command-line overrides)."""
    try:
        settings = Settings()
        return settings.model_copy(update=overrides) if overrides else settings
    except ValidationError as exc:
        fail(f"bad setting: {validation_message(exc)}")


def run(work: Callable[[AppContext], Awaitable[T]], with_search: bool = True, **overrides: Any) -> T:
    """Open the store (and search), run ``work``, close; Lienhop errors become one-line exits."""
    settings = load_settings(**overrides)

    async def main() -> T:
        ctx = await open_context(settings, with_search=with_search)
        try:
            return await work(ctx)
        finally:
            await ctx.close()

    try:
        return asyncio.run(main())
    except LienhopError as exc:
        fail(exc.detail)
    except ValidationError as exc:
        fail(validation_message(exc))


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _runs_table(reports: list[RunReport], title: str) -> Table:
    table = Table(title=title)
    for column in ("member", "kind", "result", "pages", "added", "updated", "deleted", "unchanged", "quar."):
        table.add_column(column, justify="right" if column not in {"member", "kind", "result"} else "left")
    table.add_column("error", overflow="fold")
    for r in reports:
        result = "[green]ok[/green]" if r.ok else ("[red]failed[/red]" if r.ok is False else "running")
        table.add_row(
            r.member, r.kind, result, str(r.pages), str(r.added), str(r.updated), str(r.deleted),
            str(r.unchanged), str(r.quarantined), r.error or "",
        )  # fmt: skip
    return table


# ---------------------------------------------------------------------------- serve & demo


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: settings.host)")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default: settings.port)")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes (default: settings.workers); one leads")
    ] = None,
) -> None:
    """Serve the API, search pages and widget (and the demo OAI-PMH provider if LIENHOP_DEMO_PROVIDER=1)."""
    from .serve import serve as run_server

    given = {"host": host, "port": port, "workers": workers}
    try:
        settings = Settings.model_validate(
            {**load_settings().model_dump(), **{k: v for k, v in given.items() if v is not None}}
        )
    except ValidationError as exc:
        fail(f"bad option: {validation_message(exc)}")
    if not _admin_locked(settings):
        fail(
            f"refusing to serve on {settings.host} with the admin routes open: make an admin key with "
            "`lienhop keys create --scope admin --label NAME` (or set LIENHOP_ADMIN_TOKEN), "
            "or serve on 127.0.0.1"
        )
    run_server(settings)


def _admin_locked(settings: Settings) -> bool:
    """Whether serving on ``settings.host`` is safe: a loopback address, or an admin key exists."""
    from datetime import UTC, datetime

    from .auth import is_loopback

    if is_loopback(settings.host) or settings.host == "localhost" or settings.admin_token:
        return True

    async def work(ctx: AppContext) -> bool:
        return await ctx.store.has_admin_key(datetime.now(UTC).date())

    return run(work, with_search=False)


@cli.command()
def demo() -> None:
    """Register the demo consortium, harvest it from the demo provider and index it (idempotent)."""
    from .demo import setup

    settings = load_settings()
    base = f"http://127.0.0.1:{settings.port}"
    if setup.provider_running(base):
        console.print(f"Using the demo provider of the server running at {base}")
        _demo_harvest(base)
        return
    if setup.port_in_use("127.0.0.1", settings.port):
        fail(
            f"port {settings.port} is in use, but not by a Lienhop server with the demo provider: "
            "serve with LIENHOP_DEMO_PROVIDER=1, or set LIENHOP_PORT"
        )
    try:
        with setup.provider_thread("127.0.0.1", settings.port) as started:
            console.print(f"Started the demo provider at {started}")
            _demo_harvest(started)
    except LienhopError as exc:
        fail(exc.detail)


def _demo_harvest(base: str) -> None:
    from .demo import setup
    from .demo.members import DEMO_MEMBERS

    codes = [m.code for m in DEMO_MEMBERS]

    async def work(ctx: AppContext) -> list[RunReport]:
        added, updated = await setup.register_members(ctx.store, base)
        console.print(f"Members: {len(added)} added, {len(updated)} updated, {len(codes)} in the demo")
        with terminal_progress(console) as sink:
            return await operations.harvest(ctx, codes, False, sink)

    reports = run(work, harvest_allow_networks=setup.allowed_networks(load_settings(), base))
    console.print(_runs_table(reports, "Demo harvest"))
    total = run(_live_count, with_search=False)
    console.print(
        f"{total} live records in the union catalogue. Next: LIENHOP_DEMO_PROVIDER=1 lienhop serve "
        f"(scheduled harvests read the demo provider), then open {base}/"
    )
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


async def _live_count(ctx: AppContext) -> int:
    return await ctx.store.count_live()


# ---------------------------------------------------------------------------- members


@members_cli.command("add")
def members_add(
    code: Annotated[str, typer.Argument(help="Short code, e.g. NASATI")],
    name: Annotated[str, typer.Option("--name", help="Vietnamese name")],
    oai_url: Annotated[str | None, typer.Option("--oai-url", help="OAI-PMH base URL")] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="oai_dc or marcxml")] = "oai_dc",
    sets: Annotated[list[str] | None, typer.Option("--set", help="setSpec to harvest (repeatable)")] = None,
    status: Annotated[str, typer.Option("--status", help="member or observer")] = "member",
    name_en: Annotated[str | None, typer.Option("--name-en", help="English name")] = None,
    observer_since: Annotated[str | None, typer.Option("--observer-since", help="YYYY-MM-DD")] = None,
    joined: Annotated[str | None, typer.Option("--joined", help="YYYY-MM-DD")] = None,
    opac_template: Annotated[
        str | None, typer.Option("--opac-template", help="OPAC link; {local_id}, {oai_identifier}, {isbn}")
    ] = None,
    contact: Annotated[str | None, typer.Option("--contact")] = None,
) -> None:
    """Register a member."""
    try:
        new = MemberCreate.model_validate(
            {
                "code": code,
                "name_vi": name,
                "name_en": name_en,
                "oai_url": oai_url,
                "metadata_prefix": prefix,
                "sets": sets or [],
                "status": status,
                "observer_since": observer_since,
                "joined": joined,
                "opac_url_template": opac_template,
                "contact": contact,
            }
        )
    except ValidationError as exc:
        fail(validation_message(exc))

    async def work(ctx: AppContext) -> None:
        await check_member_url(new.oai_url, ctx.settings)
        await ctx.store.add_member(new)

    run(work, with_search=False)
    console.print(f"Registered {new.code} ({new.name_vi})")


@members_cli.command("update")
def members_update(
    code: Annotated[str, typer.Argument(help="The member's code")],
    name: Annotated[str | None, typer.Option("--name", help="Vietnamese name")] = None,
    name_en: Annotated[str | None, typer.Option("--name-en", help="English name ('' clears)")] = None,
    status: Annotated[str | None, typer.Option("--status", help="member or observer")] = None,
    observer_since: Annotated[str | None, typer.Option("--observer-since", help="YYYY-MM-DD")] = None,
    joined: Annotated[str | None, typer.Option("--joined", help="YYYY-MM-DD")] = None,
    oai_url: Annotated[str | None, typer.Option("--oai-url", help="OAI-PMH base URL ('' clears)")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", help="oai_dc or marcxml")] = None,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="setSpec to harvest (repeatable; replaces the list)")
    ] = None,
    all_sets: Annotated[
        bool, typer.Option("--all-sets", help="Harvest the whole repository, no sets")
    ] = False,
    opac_template: Annotated[
        str | None, typer.Option("--opac-template", help="OPAC link ('' clears)")
    ] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Contact ('' clears)")] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Harvest this member or not")
    ] = None,
    schedule: Annotated[
        str | None, typer.Option("--schedule", help="daily, weekly, hourly or manual")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote an observer before its two years of observation")
    ] = False,
    origins: Annotated[
        list[str] | None,
        typer.Option(
            "--origin", help="OPAC web origin, for usage (repeatable; replaces the list; '' clears)"
        ),
    ] = None,
) -> None:
    """Change a member: promote an observer, deactivate, point at a new OAI-PMH source..."""
    if sets and all_sets:
        fail("give --set or --all-sets, not both")
    given: dict[str, Any] = {
        "name_vi": name,
        "name_en": name_en,
        "status": status,
        "observer_since": observer_since,
        "joined": joined,
        "oai_url": oai_url,
        "metadata_prefix": prefix,
        "sets": [] if all_sets else sets,
        "opac_url_template": opac_template,
        "contact": contact,
        "active": active,
        "harvest_schedule": schedule,
        "origins": origins,
    }
    try:
        changes = MemberUpdate.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        fail(validation_message(exc))

    async def work(ctx: AppContext) -> MemberUpdated:
        await check_member_url(changes.oai_url, ctx.settings)
        return await update_member(ctx.store, code, changes, force=force)

    updated = run(work, with_search=False)
    member = updated.report.member
    if not updated.changed:
        console.print(f"{member.code}: nothing to change")
        return
    shown = ", ".join(f"{k} = {'-' if v is None else v}" for k, v in updated.changed.items())
    console.print(f"Updated {member.code}: {shown}")
    if updated.relisted:
        console.print(f"The next harvest of {member.code} lists the whole repository again.")


@members_cli.command("list")
def members_list() -> None:
    """Members with their record counts and last harvest."""

    async def work(ctx: AppContext) -> list[MemberStatusReport]:
        return await member_statuses(ctx.store)

    reports = run(work, with_search=False)
    table = Table(title=f"{len(reports)} members")
    for column in ("code", "name", "status", "active", "deleted", "quar.", "last harvest"):
        table.add_column(column, justify="right" if column in {"active", "deleted", "quar."} else "left")
    for r in reports:
        last = r.last_harvest
        when = "never"
        if last is not None:
            state = "ok" if last.ok else ("failed" if last.ok is False else "running")
            when = f"{(last.finished or last.started):%Y-%m-%d %H:%M} {state}"
        status = r.status if r.member.active else f"{r.status}, inactive"  # not harvested any more
        table.add_row(
            r.code, r.member.name_vi, status, str(r.records.active), str(r.records.deleted),
            str(r.records.quarantined), when,
        )  # fmt: skip
    console.print(table)


@members_cli.command("show")
def members_show(
    code: str, as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False
) -> None:
    """One member's status; tells when an observer becomes eligible for membership."""

    async def work(ctx: AppContext) -> MemberStatusReport:
        return await member_status(ctx.store, code)

    report = run(work, with_search=False)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    m = report.member
    console.print(f"[bold]{m.code}[/bold] {m.name_vi}" + (f" / {m.name_en}" if m.name_en else ""))
    console.print(f"status: {m.status}" + (f", joined {m.joined}" if m.joined else ""))
    if m.status == "observer":
        eligible = report.eligible_for_membership
        if eligible is None:
            console.print("observer; start of observation unknown, so eligibility cannot be told")
        elif eligible <= date.today():
            console.print(f"observer since {m.observer_since}; eligible for full membership since {eligible}")
        else:
            days = (eligible - date.today()).days
            console.print(
                f"observer since {m.observer_since}; eligible for full membership on {eligible} "
                f"(in {days} days)"
            )
    sets = f", sets {', '.join(m.sets)}" if m.sets else ""
    console.print(f"OAI-PMH: {m.oai_url or '-'} ({m.metadata_prefix}{sets})")
    console.print(
        f"records: {report.records.active} active, {report.records.deleted} deleted, "
        f"{report.records.quarantined} quarantined"
    )
    schedule = f"schedule: {m.harvest_schedule or 'manual'}"
    if not m.active:
        schedule += " (inactive: not harvested)"
    if report.harvest_overdue and report.next_harvest:
        schedule += f"; [red]overdue since {report.next_harvest:%Y-%m-%d %H:%M} UTC[/red]"
    elif report.next_harvest:
        schedule += f"; next harvest {report.next_harvest:%Y-%m-%d %H:%M} UTC"
    console.print(schedule)
    if report.last_harvest:
        console.print(_runs_table([report.last_harvest], "Last harvest"))
    else:
        console.print("never harvested")


@members_cli.command("check")
def members_check(
    code: str, as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False
) -> None:
    """Check a member's OAI-PMH endpoint before harvesting (nothing is stored); exit 1 if a check fails."""

    async def work(ctx: AppContext) -> ProbeReport:
        return await check_member(await ctx.store.get_member(code), ctx.settings)

    report = run(work, with_search=False)
    if as_json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    else:
        table = Table(title=f"{report.code}: {report.oai_url or 'no OAI-PMH URL'}")
        for column in ("check", "result", "detail"):
            table.add_column(column, overflow="fold")
        colours = {"ok": "green", "warn": "yellow", "fail": "red"}
        for check in report.checks:
            table.add_row(check.name, f"[{colours[check.status]}]{check.status}[/]", check.detail)
        console.print(table)
    if not report.ok:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- harvest, import, reindex


@cli.command()
def harvest(
    codes: Annotated[list[str] | None, typer.Argument(help="Member codes (default: all active)")] = None,
    full: Annotated[bool, typer.Option("--full", help="Ignore the incremental high-water mark")] = False,
    reconcile: Annotated[
        bool | None,
        typer.Option(
            "--reconcile/--no-reconcile",
            help="After the harvest, delete records the repository no longer lists (ListIdentifiers). "
            "Default: on a --full harvest of a repository that does not report all deletions.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Let reconciliation delete more than reconcile_max_fraction")
    ] = False,
) -> None:
    """Harvest members over OAI-PMH and index what came in; exit 1 when any member failed."""
    chosen = [c.upper() for c in codes] if codes else None

    async def work(ctx: AppContext) -> list[RunReport]:
        with terminal_progress(console) as sink:
            return await operations.harvest(ctx, chosen, full, sink, reconcile=reconcile, force=force)

    reports = run(work)
    console.print(_runs_table(reports, "Harvest"))
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


@cli.command("import")
def import_(code: str, file: Path) -> None:
    """Import a MARC file (ISO 2709 or MARCXML) for a member and index it."""
    if not file.is_file():
        fail(f"no such file: {file}")

    async def work(ctx: AppContext) -> RunReport:
        await ctx.store.get_member(code.upper())
        with terminal_progress(console) as sink:
            return await operations.import_file(ctx, code.upper(), file, sink)

    report = run(work)
    console.print(_runs_table([report], "Import"))
    if not report.ok:
        raise typer.Exit(1)


@cli.command()
def rederive(
    codes: Annotated[list[str] | None, typer.Argument(help="Member codes (default: all members)")] = None,
) -> None:
    """Map stored records again from the metadata kept with them (after a parser change); nothing is
    fetched. Only records whose normalised form changed are rewritten and re-indexed."""

    async def work(ctx: AppContext) -> list[RunReport]:
        with terminal_progress(console) as sink:
            return await operations.rederive(ctx, [c.upper() for c in codes] if codes else None, sink)

    reports = run(work)
    console.print(_runs_table(reports, "Re-derived from stored metadata"))
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@cli.command()
def reindex() -> None:
    """Rebuild the search index from the store and swap it in (searches go on meanwhile)."""

    async def work(ctx: AppContext) -> dict[str, Any]:
        with terminal_progress(console) as sink:
            return await operations.reindex(ctx, sink)

    report = run(work)
    console.print(", ".join(f"{k}: {v}" for k, v in report.items()))


# ---------------------------------------------------------------------------- search & lookup


@cli.command()
def search(
    query: Annotated[str, typer.Argument(help="Query, e.g. 'thu vien' or 'title:\"nông nghiệp\"'")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the SearchResponse JSON")] = False,
    size: Annotated[int, typer.Option("--size", help="Hits to show")] = 10,
    member: Annotated[list[str] | None, typer.Option("--member", help="Only this member")] = None,
    type_: Annotated[list[str] | None, typer.Option("--type", help="book, thesis, article...")] = None,
    lang: Annotated[list[str] | None, typer.Option("--lang", help="ISO 639-3, e.g. vie")] = None,
    subject: Annotated[list[str] | None, typer.Option("--subject")] = None,
    year_from: Annotated[int | None, typer.Option("--year-from")] = None,
    year_to: Annotated[int | None, typer.Option("--year-to")] = None,
    sort: Annotated[str, typer.Option("--sort", help="relevance, year_desc, year_asc, title")] = "relevance",
    no_correct: Annotated[
        bool, typer.Option("--no-correct", help="Search exactly as typed (no correction of slipped words)")
    ] = False,
) -> None:
    """Search the union catalogue (an ISBN, ISSN or DOI alone finds the items carrying it)."""
    try:
        request = SearchRequest.from_params(
            query,
            size=size,
            sort=sort,
            member=member or [],
            type=type_ or [],
            language=lang or [],
            subject=subject or [],
            year_from=year_from,
            year_to=year_to,
            correct=not no_correct,
        )
    except ValidationError as exc:
        fail(validation_message(exc))

    async def work(ctx: AppContext) -> Any:
        return await ctx.require_search().search(request)

    response = run(work)
    if as_json:
        sys.stdout.write(response.model_dump_json(indent=2) + "\n")
        return
    table = Table(title=f"{response.total} works for {query!r} ({response.took_ms} ms)")
    for column in ("held by", "year", "type", "title", "work"):
        table.add_column(column, overflow="fold")
    for hit in response.hits:
        title = hit.title or ""
        if hit.subtitle:
            title += f" : {hit.subtitle}"
        holders = ", ".join(h.code for h in hit.holdings) or str(hit.holdings_count)
        table.add_row(holders, str(hit.year or ""), hit.type or "", title, hit.work_id)
    console.print(table)
    if response.corrected_query:
        console.print(f"Results for: {response.corrected_query} (search exactly as typed: --no-correct)")
    if response.suggestion:
        console.print(f"Did you mean: {response.suggestion}")


@cli.command()
def lookup(
    isbn: Annotated[str | None, typer.Option("--isbn")] = None,
    issn: Annotated[str | None, typer.Option("--issn")] = None,
    doi: Annotated[str | None, typer.Option("--doi")] = None,
    title: Annotated[str | None, typer.Option("--title")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    file: Annotated[
        str | None, typer.Option("--file", help="A list, one identifier a line; - for stdin")
    ] = None,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="With --file: CSV, one row per identifier and work")
    ] = False,
) -> None:
    """Which members hold an item, by ISBN (10 or 13), ISSN, DOI or title; or each of a list (--file)."""
    if file is not None:
        lookup_file(file, as_csv, as_json)
        return
    options: dict[IdentifierKind | Literal["title"], str | None] = {
        "isbn": isbn, "issn": issn, "doi": doi, "title": title
    }  # fmt: skip
    given = [(kind, value) for kind, value in options.items() if value]
    if len(given) != 1:
        fail("give exactly one of --isbn, --issn, --doi or --title")
    ((kind, value),) = given

    async def work(ctx: AppContext) -> LookupResult:
        if kind == "title":
            return await lookup_title(ctx.store, value, search=ctx.search)
        return await lookup_identifier(ctx.store, kind, value)

    result = run(work, with_search=kind == "title")
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        return
    shown = f"{value} ({result.normalised})" if result.normalised else value
    if not result.works:
        console.print(f"No member holds {kind} {shown}")
        return
    console.print(f"{result.total_members} member(s) hold {kind} {shown}")
    for work_ in result.works:
        heading = f"{work_.title or '(untitled)'} [{work_.work_id}, held by {work_.holdings_count}]"
        table = Table(title=heading)
        for column in ("member", "name", "status", "record", "OPAC"):
            table.add_column(column, overflow="fold")
        for m in work_.holdings:
            for h in m.records:
                table.add_row(m.code, m.name_vi, m.status, h.record_id, h.opac_url or "")
        console.print(table)


def lookup_file(path: str, as_csv: bool, as_json: bool) -> None:
    """``lookup --file``: the batch lookup of ``POST /lookup`` over a list (no limit of 1,000 here)."""
    from .protocols.lookup_output import lookup_list, show

    show(run(lambda ctx: lookup_list(ctx.store, path), with_search=False), as_csv, as_json, console)


# ---------------------------------------------------------------------------- runs & quarantine


@cli.command()
def runs(
    code: Annotated[str | None, typer.Argument(help="Only this member")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 20,
) -> None:
    """Recent harvest and import runs."""

    async def work(ctx: AppContext) -> list[RunReport]:
        if code:
            await ctx.store.get_member(code.upper())
        return await ctx.store.list_runs(code.upper() if code else None, limit=limit)

    reports = run(work, with_search=False)
    console.print(_runs_table(reports, "Runs"))


@cli.command()
def quarantine(code: str, limit: Annotated[int, typer.Option("--limit")] = 100) -> None:
    """Records of a member that could not be read, with the reason."""

    async def work(ctx: AppContext) -> Any:
        member = await ctx.store.get_member(code.upper())
        return await ctx.store.list_quarantine(member.code, limit=limit)

    items = run(work, with_search=False)
    table = Table(title=f"{len(items)} quarantined for {code.upper()}")
    for column in ("identifier / offset", "reason"):
        table.add_column(column, overflow="fold")
    for item in items:
        where = item.oai_identifier or (f"byte {item.offset}" if item.offset is not None else "-")
        table.add_row(where, item.reason)
    console.print(table)


def main() -> None:
    """Entry point of the ``lienhop`` script."""
    cli()

"""The ``lienhop`` command: serve the API, set up the demo, manage members, harvest, import, search.

Bad input (an unknown prefix, a non-http URL, a duplicate code, a malformed query) prints one line
on stderr and exits 2; a harvest in which any member failed exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.table import Table

from schemas.errors import LienhopError, validation_message
from schemas.member import RunReport
from schemas.search import SearchRequest
from schemas.settings import Settings

from . import operations
from .catalog import (
    IdentifierKind,
    LookupResult,
    lookup_identifier,
    lookup_title,
)
from .cli_common import console, fail, load_settings, run, runs_table
from .cli_keys import keys_cli
from .cli_members import members_cli
from .cli_usage import usage_cli
from .cli_works import works_cli
from .context import AppContext
from .progress import terminal_progress

cli = typer.Typer(
    name="lienhop",
    help="Lienhop: union catalogue of the Vietnam Library Consortium on S&T information.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cli.add_typer(members_cli, name="members")
cli.add_typer(works_cli, name="works")
cli.add_typer(usage_cli, name="usage")
cli.add_typer(keys_cli, name="keys")


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
    console.print(runs_table(reports, "Demo harvest"))
    total = run(_live_count, with_search=False)
    console.print(
        f"{total} live records in the union catalogue. Next: LIENHOP_DEMO_PROVIDER=1 lienhop serve "
        f"(scheduled harvests read the demo provider), then open {base}/"
    )
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


async def _live_count(ctx: AppContext) -> int:
    return await ctx.store.count_live()


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
    console.print(runs_table(reports, "Harvest"))
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
    console.print(runs_table([report], "Import"))
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
    console.print(runs_table(reports, "Re-derived from stored metadata"))
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
    console.print(runs_table(reports, "Runs"))


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

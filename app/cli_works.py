"""``lienhop works``: show a work and why its records are one; split a record off, join two works.

A curator's split or join is stored and survives re-clustering (``lienhop rederive``); it shows in
``lienhop works show`` and can be removed with ``lienhop works forget OVERRIDE_ID``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from schemas.errors import WorkMoved
from schemas.work import WorkDetail, WorkOverride

from .context import AppContext
from .holdings import members_by_code, work_detail

works_cli = typer.Typer(
    help="Show works; split a record off its work or join two works.", no_args_is_help=True
)


def _describe(override: WorkOverride) -> str:
    if override.kind == "split":
        return f"override {override.id}: {override.record_id} kept apart"
    return f"override {override.id}: {override.record_id} joined with {override.other_record_id}"


@works_cli.command("show")
def show(
    work_id: str, as_json: Annotated[bool, typer.Option("--json", help="Print the work as JSON")] = False
) -> None:
    """Who holds a work, its records, and what joined each of them to it."""
    from .cli_common import console, errors, run

    moved_from: list[str] = []

    async def work(ctx: AppContext) -> WorkDetail:
        wanted = work_id
        while True:
            try:
                state = await ctx.store.get_work(wanted)
            except WorkMoved as moved:
                moved_from.append(wanted)
                wanted = moved.new_id
                continue
            return work_detail(state, await members_by_code(ctx.store))

    detail = run(work, with_search=False)
    for old in moved_from:
        errors.print(f"{old} was merged into {detail.work_id}", markup=False)
    if as_json:
        sys.stdout.write(detail.model_dump_json(indent=2) + "\n")
        return
    console.print(f"[bold]{detail.work_id}[/bold] {detail.title or '(untitled)'}", markup=True)
    console.print(f"held by {detail.holdings_count} member(s): " + ", ".join(h.code for h in detail.holdings))
    table = Table(title="Records")
    for column in ("record", "member", "year", "isbn", "doi", "issn", "joined by"):
        table.add_column(column)
    for r in detail.records:
        table.add_row(
            r.record_id,
            r.member,
            str(r.year or ""),
            " ".join(r.isbn),
            " ".join(r.doi),
            " ".join(r.issn),
            r.joined_by or "(first record)",
        )
    console.print(table)
    for override in detail.overrides:
        console.print(_describe(override), markup=False)


@works_cli.command("split")
def split(record_id: str) -> None:
    """Keep a record apart from every other (stays apart through re-clustering)."""
    from .cli_common import console, run

    async def work(ctx: AppContext) -> tuple[WorkOverride, str | None]:
        override = await ctx.store.split_record(record_id)
        return override, await ctx.store.work_of(record_id)

    override, now = run(work, with_search=False)
    console.print(f"{_describe(override)}; it is now work {now}", markup=False)


@works_cli.command("join")
def join(work_a: str, work_b: str) -> None:
    """Make two works one (the older id stays, the other redirects to it)."""
    from .cli_common import console, run

    async def work(ctx: AppContext) -> tuple[WorkOverride, str | None]:
        override = await ctx.store.join_works(work_a, work_b)
        return override, await ctx.store.work_of(override.record_id)

    override, now = run(work, with_search=False)
    console.print(f"{_describe(override)}; both are now work {now}", markup=False)


@works_cli.command("forget")
def forget(override_id: int) -> None:
    """Remove a curator's split or join; its records are clustered by their identifiers again."""
    from .cli_common import console, run

    async def work(ctx: AppContext) -> None:
        await ctx.store.remove_override(override_id)

    run(work, with_search=False)
    console.print(f"override {override_id} removed", markup=False)

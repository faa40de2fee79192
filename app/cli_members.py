"""``lienhop members``: register, change, list, show and check the consortium's members."""

from __future__ import annotations

import sys
from datetime import date
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from harvesters.outbound import check_member_url
from harvesters.probe import check_member
from schemas.errors import validation_message
from schemas.member import MemberCreate, MemberStatusReport, MemberUpdate
from schemas.probe import ProbeReport

from .catalog import (
    MemberUpdated,
    member_status,
    member_statuses,
    update_member,
)
from .cli_common import console, fail, run, runs_table
from .context import AppContext

members_cli = typer.Typer(help="Register and inspect consortium members.", no_args_is_help=True)


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
        console.print(runs_table([report.last_harvest], "Last harvest"))
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

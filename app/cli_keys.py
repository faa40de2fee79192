"""``lienhop keys``: make, list and revoke API keys. A key is printed once, when it is made."""

from __future__ import annotations

import getpass
from datetime import date
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from schemas.auth import ApiKey, KeyCreate
from schemas.errors import validation_message

from .context import AppContext

keys_cli = typer.Typer(help="API keys: admin, curator or client of a member.", no_args_is_help=True)


async def _audit(ctx: AppContext, action: str) -> None:
    """Key changes made on the command line go to the audit log too (status 0: no HTTP request)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        user = "unknown user"
    await ctx.store.audit(f"cli ({user})", action, "ok", 0)


@keys_cli.command("create")
def keys_create(
    scope: Annotated[str, typer.Option("--scope", help="admin, curator or client")],
    label: Annotated[str, typer.Option("--label", help="Who or what uses the key")],
    member: Annotated[
        str | None, typer.Option("--member", help="The member of a curator or client key")
    ] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Last day the key works, YYYY-MM-DD")
    ] = None,
) -> None:
    """Make a key; it is printed alone on the last line, and never shown again."""
    from .cli_common import console, fail, run

    try:
        new = KeyCreate.model_validate({"scope": scope, "label": label, "member": member, "expires": expires})
    except ValidationError as exc:
        fail(validation_message(exc))
    if new.expires is not None and new.expires < date.today():
        fail(f"--expires {new.expires} is already past")

    async def work(ctx: AppContext) -> tuple[ApiKey, str]:
        made, key = await ctx.store.add_key(new)
        await _audit(ctx, f"keys create {made.id} ({made.label}, {made.scope})")
        return made, key

    made, key = run(work, with_search=False)
    owner = f" of {made.member}" if made.member else ""
    until = f", until {made.expires}" if made.expires else ""
    console.print(
        f"Key {made.id} ({made.label}): {made.scope}{owner}{until}. Keep it now; it is not shown again."
    )
    typer.echo(key)


@keys_cli.command("list")
def keys_list() -> None:
    """Keys with their ids, labels, scopes and states (never the keys themselves)."""
    from .cli_common import console, run

    async def work(ctx: AppContext) -> list[ApiKey]:
        return await ctx.store.list_keys()

    keys = run(work, with_search=False)
    table = Table(title=f"{len(keys)} keys")
    for column in ("id", "label", "scope", "member", "expires", "state", "last used"):
        table.add_column(column, justify="right" if column == "id" else "left")
    today = date.today()
    for key in keys:
        if key.revoked:
            state = f"revoked {key.revoked:%Y-%m-%d}"
        elif key.expires and key.expires < today:
            state = "expired"
        else:
            state = "active"
        last = f"{key.last_used:%Y-%m-%d %H:%M}" if key.last_used else "never"
        table.add_row(
            str(key.id), key.label, key.scope, key.member or "", str(key.expires or ""), state, last
        )
    console.print(table)


@keys_cli.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `lienhop keys list`)")],
) -> None:
    """Refuse a key from now on."""
    from .cli_common import console, run

    async def work(ctx: AppContext) -> ApiKey:
        key = await ctx.store.revoke_key(key_id)
        await _audit(ctx, f"keys revoke {key.id} ({key.label})")
        return key

    key = run(work, with_search=False)
    console.print(f"Key {key.id} ({key.label}) revoked.")


__all__ = ["keys_cli"]

"""What every ``lienhop`` command shares: the consoles, one-line failures, the settings, and running
a piece of work against an opened store and search backend."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from schemas.errors import LienhopError, validation_message
from schemas.member import RunReport
from schemas.settings import Settings

from .context import AppContext, open_context

T = TypeVar("T")

# Pipes and logs get wide lines rather than rich's 80-column default, so summary tables stay readable.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
errors = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 300)


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


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def runs_table(reports: list[RunReport], title: str) -> Table:
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

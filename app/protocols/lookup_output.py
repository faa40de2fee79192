"""``lienhop lookup --file``: reading a list of identifiers, and writing the batch's answers as CSV."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from schemas.errors import InvalidInput
from store.front import RecordStore

from .lookup import MAX_IDENTIFIERS, BatchLookupResponse, batch_lookup, lines_of

CSV_COLUMNS = ("query", "normalised", "work_id", "title", "members", "error")


def read_list(path: str) -> list[str]:
    """The identifiers of a file, one a line (``-``: standard input)."""
    if path == "-":
        return lines_of(sys.stdin.read())
    try:
        return lines_of(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"--file {path}: cannot read it as UTF-8 text ({exc})") from None


def rows(response: BatchLookupResponse) -> list[dict[str, str]]:
    """One row per identifier and work (one row with no work for an identifier nobody holds)."""
    out = []
    for result in response.results:
        base = {"query": result.query, "normalised": result.normalised or "", "error": result.error or ""}
        if not result.works:
            out.append({**base, "work_id": "", "title": "", "members": ""})
        for work in result.works:
            members = ";".join(h.code for h in work.holdings)
            out.append({**base, "work_id": work.work_id, "title": work.title or "", "members": members})
    return out


def to_csv(response: BatchLookupResponse) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(response))
    return buffer.getvalue()


async def lookup_list(store: RecordStore, path: str) -> BatchLookupResponse:
    """The batch lookup of a whole list, 1,000 identifiers at a time."""
    identifiers = read_list(path)
    chunks = [identifiers[i : i + MAX_IDENTIFIERS] for i in range(0, len(identifiers), MAX_IDENTIFIERS)]
    results = [r for chunk in chunks for r in (await batch_lookup(store, chunk)).results]
    return BatchLookupResponse(results=results)


def show(response: BatchLookupResponse, as_csv: bool, as_json: bool, console: Console) -> None:
    """CSV, JSON, or a table for a terminal."""
    if as_csv:
        sys.stdout.write(to_csv(response))
        return
    if as_json:
        sys.stdout.write(response.model_dump_json(indent=2) + "\n")
        return
    table = Table(title=f"{len(response.results)} identifier(s)")
    for column in ("query", "normalised", "work", "members", "error"):
        table.add_column(column, overflow="fold")
    for row in rows(response):
        table.add_row(row["query"], row["normalised"], row["work_id"], row["members"], row["error"])
    console.print(table)

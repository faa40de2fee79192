"""Usage rows into monthly reports: how long the consortium's numbers take at 10 million COUNTER rows.

Three stages, each measured on its own (SQLite store in a temporary folder):

- ``load``: the import/harvest path, ``usage.loading.replace_months`` (delete the month, insert its
  rows and its monthly totals in one transaction), on ``--load-rows`` rows in reports of
  ``--report-rows`` rows each;
- ``totals (SQL)``: ``usage.loading.rebuild_totals``, one ``GROUP BY`` over every stored row, on
  ``--rows`` rows (filled with plain sqlite3 ``executemany`` first: the fill is not measured);
- ``totals (memory)``: ``usage.loading.monthly_totals``, the sums computed while a report is loaded;
- ``report``: ``usage.report.build_report``, the year's report from the totals.

The 10-million column extrapolates linearly from the rows measured when fewer were run.

    .venv/bin/python bench/usage.py [--rows 1000000] [--load-rows 200000] [--report-rows 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from schemas.member import MemberCreate
from schemas.usage import UsageCost, UsageDatabaseCreate
from store.front import RecordStore
from usage.counter import UsageRow
from usage.loading import monthly_totals, rebuild_totals, replace_months
from usage.registry import UsageRegistry
from usage.report import build_report

TARGET = 10_000_000
DATABASES = ("SD", "EB", "PQ", "SP", "WI")
MEMBERS = tuple(f"M{i:02d}" for i in range(30))
METRICS = ("Total_Item_Requests", "Unique_Item_Requests", "Total_Item_Investigations", "Searches_Regular")
YEAR = 2025


def cells() -> list[tuple[str, str, date]]:
    """Every (database, member, month) of the year: 5 x 30 x 12 = 1,800 monthly reports."""
    return [(db, m, date(YEAR, month, 1)) for db in DATABASES for m in MEMBERS for month in range(1, 13)]


def report_rows(month: date, n: int, seed: int) -> list[UsageRow]:
    """``n`` rows of a Database Report: titles x metrics, a tenth of them TDM."""
    rows = []
    for i in range(n):
        access = "TDM" if i % 10 == 9 else "Regular"
        attributes = {"Data_Type": "Database", "Access_Method": access}
        rows.append(UsageRow(month, METRICS[i % 4], (seed * 7 + i) % 97, f"Title {i // 4}", None, attributes))
    return rows


async def setup(url: str) -> RecordStore:
    store = await RecordStore.open(url)
    registry = UsageRegistry(store.engine)
    for code in MEMBERS:
        await store.add_member(MemberCreate(code=code, name_vi=f"Thư viện {code}"))
    for code in DATABASES:
        await registry.add_database(
            UsageDatabaseCreate(code=code, name=code, sushi_url=f"https://{code.lower()}.example.org/r5"),
            UsageCost(year=YEAR, amount=10_000, currency="USD"),  # type: ignore[arg-type]
        )
    return store


async def bench_load(folder: Path, total: int, per_report: int) -> tuple[int, float]:
    store = await setup(f"sqlite+aiosqlite:///{folder / 'load.sqlite'}")
    done, started = 0, time.perf_counter()
    try:
        for seed, (db, member, month) in enumerate(cells()):
            if done >= total:
                break
            rows = report_rows(month, min(per_report, total - done), seed)
            done += await replace_months(store.engine, db, member, "DR", [month], rows)
        return done, time.perf_counter() - started
    finally:
        await store.close()


def fill(path: Path, total: int) -> int:
    """Put ``total`` rows into usage_items with plain sqlite3 (the fastest way in; not measured)."""
    per_cell = -(-total // len(cells()))
    attributes = [json.dumps({"Data_Type": "Database", "Access_Method": a}) for a in ("Regular", "TDM")]
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    written = 0
    for seed, (db, member, month) in enumerate(cells()):
        n = min(per_cell, total - written)
        if n <= 0:
            break
        batch = [
            (db, member, "DR", month.isoformat(), METRICS[i % 4], "TDM" if i % 10 == 9 else "Regular",
             f"Title {i // 4}", attributes[i % 10 == 9], (seed * 7 + i) % 97)
            for i in range(n)
        ]  # fmt: skip
        connection.executemany(
            "INSERT INTO usage_items (database, member, report_id, month, metric, access_method, title,"
            " attributes, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
        written += n
    connection.commit()
    connection.close()
    return written


async def bench_totals(folder: Path, total: int) -> tuple[int, float, float, int]:
    path = folder / "totals.sqlite"
    store = await setup(f"sqlite+aiosqlite:///{path}")
    await store.close()
    written = fill(path, total)
    store = await RecordStore.open(f"sqlite+aiosqlite:///{path}")
    try:
        started = time.perf_counter()
        totals = await rebuild_totals(store.engine)
        grouped = time.perf_counter() - started
        started = time.perf_counter()
        report = await build_report(store.engine, YEAR)
        reported = time.perf_counter() - started
        assert report.months_with_data == 12 and len(report.members) == len(MEMBERS)
        return written, grouped, reported, totals
    finally:
        await store.close()


def bench_memory(total: int, per_report: int) -> tuple[int, float]:
    done, spent, seed = 0, 0.0, 0
    while done < total:
        rows = report_rows(date(YEAR, 1 + seed % 12, 1), min(per_report, total - done), seed)
        started = time.perf_counter()
        monthly_totals(rows)
        spent += time.perf_counter() - started
        done += len(rows)
        seed += 1
    return done, spent


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the totals and the report")
    parser.add_argument("--load-rows", type=int, default=200_000, help="rows loaded through replace_months")
    parser.add_argument("--report-rows", type=int, default=2_000, help="rows per loaded monthly report")
    args = parser.parse_args()
    console = Console()
    table = Table(title=f"Usage rows into monthly reports (SQLite), {time.strftime('%Y-%m-%d')}")
    for column in ("stage", "rows", "seconds", "CPU s", "rows/s", "10M rows (s)"):
        table.add_column(column, justify="left" if column == "stage" else "right")

    cpu = time.process_time()

    def add(stage: str, rows: int, seconds: float) -> None:
        # CPU seconds of the whole process (the database driver's thread too) since the last stage
        nonlocal cpu
        spent, cpu = time.process_time() - cpu, time.process_time()
        rate = rows / seconds if seconds else float("inf")
        at_target = f"{seconds * TARGET / rows:,.1f}" if rows else "-"
        table.add_row(stage, f"{rows:,}", f"{seconds:,.2f}", f"{spent:,.2f}", f"{rate:,.0f}", at_target)

    with tempfile.TemporaryDirectory(prefix="lienhop-bench-usage-") as tmp:
        folder = Path(tmp)
        rows, seconds = await bench_load(folder, args.load_rows, args.report_rows)
        add("load (replace_months)", rows, seconds)
        rows, seconds = bench_memory(args.rows, args.report_rows)
        add("totals (memory, while loading)", rows, seconds)
        rows, grouped, reported, totals = await bench_totals(folder, args.rows)
        add("totals (SQL GROUP BY, rebuild)", rows, grouped)
        table.add_row(
            "report (from totals)", f"{totals:,} totals", f"{reported:,.2f}", "", "-", f"{reported:,.2f} *"
        )
    console.print(table)
    console.print("* the report reads the monthly totals, whose number does not grow with the rows")
    console.print("CPU s of the SQL stage includes filling the table, which its seconds do not")


if __name__ == "__main__":
    asyncio.run(main())

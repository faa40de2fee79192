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

Lienhop's own usage, two more stages:

- ``own events``: ``--events`` events through ``UsageRecorder.record`` and written in batches of 500
  (events and monthly sums), then ``usage.own.monthly_counts`` (every member's metrics per month);
- ``search p99, counting on/off``: ``--searches`` searches through the ASGI app in-process at
  ``--concurrency``, with usage counting on and off in the same run, alternating, ``--rounds`` times;
  the medians of the p99 latencies and their ratio (the target: at most 1.05), and of the CPU time
  per search, events written included (on a machine shared with other jobs the p99 moves with their
  load; the CPU time much less).

    .venv/bin/python bench/usage.py [--rows 1000000] [--load-rows 200000] [--report-rows 2000]
                                    [--events 1000000] [--searches 2000] [--only own]
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
from usage.own import monthly_counts
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


async def bench_own_events(folder: Path, total: int) -> tuple[int, float, float]:
    """``total`` own usage events over a year counted and written in batches of 500 (seconds), then
    every member's COUNTER metrics per month read back (seconds)."""
    from datetime import UTC, datetime

    from usage.events import EventKind, UsageRecorder

    store = await setup(f"sqlite+aiosqlite:///{folder / 'own.db'}")
    recorder = UsageRecorder(store.engine, flush_seconds=3600, batch_size=10**9)
    kinds: tuple[EventKind, ...] = ("search", "search", "view", "view", "request", "lookup")
    browser = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    try:
        started = time.perf_counter()
        for i in range(total):
            at = datetime(YEAR, i % 12 + 1, 1 + i % 28, i % 24, tzinfo=UTC)
            recorder.record(
                kinds[i % 6], "page", client=f"10.0.{i % 200}.{i % 250}", user_agent=browser, at=at,
                member=MEMBERS[i % 30], item=f"m{(i * 7) % 30:02d}-{i % 5000:016x}", key=str(i),
            )  # fmt: skip
            if i % 500 == 499:
                await recorder.flush()
        await recorder.flush()
        written = time.perf_counter() - started
        started = time.perf_counter()
        await monthly_counts(store.engine)
        return total, written, time.perf_counter() - started
    finally:
        await store.close()


async def bench_counting_cost(folder: Path, events: int = 20_000) -> tuple[float, float]:
    """CPU microseconds per counted search: on the request (the middleware's classifying and
    ``UsageRecorder.record``), and writing it (``UsageRecorder.flush``)."""
    from app.usage_events import UsageMiddleware
    from usage.events import UsageRecorder

    store = await setup(f"sqlite+aiosqlite:///{folder / 'cost.db'}")
    recorder = UsageRecorder(store.engine, flush_seconds=3600, batch_size=10**9)
    browser = b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    headers = [
        (b"host", b"bench"),
        (b"accept", b"*/*"),
        (b"accept-encoding", b"gzip"),
        (b"user-agent", browser),
    ]
    scope: dict[str, object] = {"type": "http", "method": "GET", "path": "/search", "headers": headers,
                                "client": ("192.0.2.1", 50000)}  # fmt: skip
    try:
        cpu = time.process_time()
        for n in range(events):
            scope["query_string"] = f"q=th%C6%B0+vi%E1%BB%87n+{n}".encode()
            UsageMiddleware._count(recorder, scope, 200)
        counted = time.process_time() - cpu
        cpu = time.process_time()
        await recorder.flush()
        return counted / events * 1e6, (time.process_time() - cpu) / events * 1e6
    finally:
        await store.close()


async def bench_search_counting(
    folder: Path, searches: int, concurrency: int, rounds: int
) -> dict[bool, tuple[float, float]]:
    """Per mode (counting off, on): the median over rounds of the p99 search latency and of the CPU
    seconds per search (the process's, events written included: the queue is flushed inside the
    measured window)."""
    import httpx

    from app.main import create_app
    from schemas.record import Record
    from schemas.settings import Settings

    app = create_app(Settings(home=folder / "search-home"))
    words = ("thư viện", "khoa học", "máy tính", "dữ liệu", "Việt Nam", "công nghệ", "số", "mạng")
    found: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    async with app.router.lifespan_context(app):
        ctx = app.state.lienhop
        recorder = app.state.usage_recorder
        await ctx.store.add_member(MemberCreate(code="BENCH", name_vi="Thư viện thử"))
        page = [Record(member="BENCH", oai_identifier=f"oai:b:{i}", year=1990 + i % 35,
                       title=f"{words[i % 8]} {words[(i * 3) % 8]} {i}") for i in range(2000)]  # fmt: skip
        await ctx.store.commit_page("BENCH", None, page)
        await ctx.sync_index()
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 50000))
        browser = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=browser) as client:

            async def one_way(counting: bool) -> tuple[float, float]:
                recorder.enabled = counting
                latencies: list[float] = []
                queue = iter(range(searches))

                async def worker() -> None:
                    for n in queue:
                        started = time.perf_counter()
                        answer = await client.get("/search", params={"q": f"{words[n % 8]} {n % 97}"})
                        latencies.append(time.perf_counter() - started)
                        assert answer.status_code == 200, answer.text

                cpu = time.process_time()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                await recorder.flush()  # what this way queued is written within its measure
                cpu = time.process_time() - cpu
                latencies.sort()
                return latencies[int(len(latencies) * 0.99) - 1], cpu / searches

            await one_way(False)  # warm-up: caches, the index's first reads
            for n in range(rounds):
                for counting in (n % 2 == 0, n % 2 != 0):
                    found[counting].append(await one_way(counting))
        recorder.enabled = True
    return {
        mode: (sorted(p for p, _ in runs)[len(runs) // 2], sorted(c for _, c in runs)[len(runs) // 2])
        for mode, runs in found.items()
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the totals and the report")
    parser.add_argument("--load-rows", type=int, default=200_000, help="rows loaded through replace_months")
    parser.add_argument("--report-rows", type=int, default=2_000, help="rows per loaded monthly report")
    parser.add_argument("--events", type=int, default=200_000, help="own usage events counted")
    parser.add_argument("--searches", type=int, default=2_000, help="searches each way per round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("vendor", "own"), help="run only these stages")
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
        if args.only != "vendor":
            rows, seconds, report = await bench_own_events(folder, args.events)
            add("own events (counted, written)", rows, seconds)
            table.add_row(
                "own usage report (monthly_counts)", "", f"{report:,.2f}", "", "-", f"{report:,.2f} *"
            )
            on_request, writing = await bench_counting_cost(folder)
            console.print(
                f"counting one search: {on_request:.1f} us of CPU on the request, {writing:.1f} us writing it"
            )
            modes = await bench_search_counting(folder, args.searches, args.concurrency, args.rounds)
            (off, off_cpu), (on, on_cpu) = modes[False], modes[True]
            console.print(
                f"search, {args.searches:,} searches each way x {args.rounds} rounds at concurrency "
                f"{args.concurrency} (medians): p99 counting off {off * 1000:.2f} ms, on {on * 1000:.2f} ms, "
                f"ratio {on / off:.3f} (target <= 1.05); CPU per search off {off_cpu * 1e6:,.0f} us, "
                f"on {on_cpu * 1e6:,.0f} us, ratio {on_cpu / off_cpu:.3f}"
            )
        if args.only == "own":
            console.print(table)
            return
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
    console.print("* the reports read the monthly totals and sums, whose number does not grow with the rows")
    console.print("CPU s of the SQL stage includes filling the table, which its seconds do not")


if __name__ == "__main__":
    asyncio.run(main())

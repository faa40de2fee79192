"""Embedded search backends side by side: SQLite FTS5 against tantivy, on the same documents and queries.

Documents come from the generator of ``bench/search.py`` (fixed seed, streamed in batches: memory stays
bounded at any ``--records``). For each backend, in the same run:

* indexing docs/s through ``backend.bulk`` into a new index, then ``refresh`` and the alias swap;
* the index size on disk;
* latency p50/p99 and throughput of a fixed mix of ``--queries`` requests through ``SearchService``
  (parse, backend, highlights), at concurrency 1 and 16;
* the answers' totals are compared between the backends (same match sets expected).

    .venv/bin/python bench/embedded.py --records 100000
    .venv/bin/python bench/embedded.py --records 1000000 --concurrency 1
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.search import Latency, index_with, measure, query_mix  # noqa: E402
from schemas.search import SearchRequest  # noqa: E402
from search.service import SearchService  # noqa: E402


@dataclass
class Result:
    """What one backend measured."""

    name: str
    docs_per_s: float = 0.0
    size_bytes: int = 0
    latency: dict[int, Latency] = field(default_factory=dict)
    totals: list[int] = field(default_factory=list)


def make_backend(name: str, folder: Path) -> Any:
    """An unopened embedded backend of that name in ``folder``."""
    if name == "sqlite":
        from search.sqlite_fts import SqliteBackend

        return SqliteBackend(folder)
    from search.tantivy_index import TantivyBackend

    return TantivyBackend(folder)


async def run_one(name: str, args: argparse.Namespace, requests: Sequence[SearchRequest]) -> Result:
    """Index, measure the size, then the query latencies of one backend in a temporary folder."""
    result = Result(name)
    folder = Path(tempfile.mkdtemp(prefix=f"lienhop-embedded-{name}-", dir=args.tmp))
    backend = make_backend(name, folder)
    try:
        await backend.open()
        print(f"{name}: indexing {args.records:,} records...", file=sys.stderr)
        spent = await index_with(backend, args.records, args.seed, args.batch)
        result.docs_per_s = args.records / spent
        result.size_bytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        service = SearchService(backend)
        print(f"{name}: querying...", file=sys.stderr)
        result.totals = [(await service.search(r)).total for r in requests]  # also the warm-up
        for concurrency in args.concurrency:
            result.latency[concurrency] = await measure(
                lambda i: service.search(requests[i]), len(requests), concurrency
            )
    finally:
        await backend.close()
        shutil.rmtree(folder, ignore_errors=True)
    return result


def print_table(results: Sequence[Result], records: int, queries: int, concurrency: Sequence[int]) -> None:
    """Indexing, size and latencies per backend, then tantivy against SQLite."""
    print(f"\n{records:,} records, {queries:,} queries through SearchService; latencies in ms")
    print(f"{'backend':<8} {'index docs/s':>13} {'size MB':>8}", end="")
    for c in concurrency:
        print(f" {f'c{c} p50':>8} {f'c{c} p99':>8} {f'c{c} qps':>8}", end="")
    print()
    for r in results:
        print(f"{r.name:<8} {r.docs_per_s:>13,.0f} {r.size_bytes / 1e6:>8.1f}", end="")
        for c in concurrency:
            lat = r.latency[c]
            print(f" {lat.p50:>8.2f} {lat.p99:>8.2f} {lat.qps:>8.0f}", end="")
        print()
    by_name = {r.name: r for r in results}
    if {"sqlite", "tantivy"} <= set(by_name):
        s, t = by_name["sqlite"], by_name["tantivy"]
        ratio = f"{t.docs_per_s / s.docs_per_s:>12.2f}x {t.size_bytes / s.size_bytes:>7.2f}x"
        print(f"{'t/s':<8} {ratio}", end="")
        for c in concurrency:
            a, b = t.latency[c], s.latency[c]
            print(f" {a.p50 / b.p50:>7.2f}x {a.p99 / b.p99:>7.2f}x {a.qps / b.qps:>7.2f}x", end="")
        print("   (tantivy / sqlite)")
        differ = [i for i, (x, y) in enumerate(zip(s.totals, t.totals, strict=True)) if x != y]
        print(f"totals differing between the backends: {len(differ)} of {queries}", end="")
        for i in differ[:5]:
            print(f"\n  {requests_repr(i)}: sqlite {s.totals[i]}, tantivy {t.totals[i]}", end="")
        print()


_REQUESTS: list[SearchRequest] = []


def requests_repr(i: int) -> str:
    """A short form of request ``i`` of the mix, for the report."""
    r = _REQUESTS[i]
    return f"q={r.q!r} sort={r.sort} filters={r.filters.model_dump(exclude_defaults=True)}"


async def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--batch", type=int, default=1000, help="documents per backend.bulk call")
    parser.add_argument("--queries", type=int, default=1000, help="size of the fixed query mix")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated concurrency levels")
    parser.add_argument("--backends", default="sqlite,tantivy", help="comma-separated: sqlite, tantivy")
    parser.add_argument("--tmp", default=None, help="folder for the temporary indexes")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    _REQUESTS[:] = query_mix(args.queries)
    results = []
    for name in args.backends.split(","):
        started = time.perf_counter()
        results.append(await run_one(name, args, _REQUESTS))
        print(f"{name}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print_table(results, args.records, len(_REQUESTS), args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""The embedded search backend (tantivy) on its own: indexing, size on disk and query latencies.

Documents come from the generator of ``bench/search.py`` (fixed seed, streamed in batches: memory stays
bounded at any ``--records``). In one run:

* indexing docs/s through ``backend.bulk`` into a new index, then ``refresh`` and the alias swap;
* the index size on disk;
* latency p50/p99 and throughput of a fixed mix of ``--queries`` requests through ``SearchService``
  (parse, backend, highlights), at concurrency 1 and 16.

The SQLite FTS5 backend this used to compare against was retired; ``bench/search.py`` sets tantivy
beside the search node.

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

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.corpus import query_mix  # noqa: E402
from bench.search import Latency, index_with, measure  # noqa: E402
from schemas.search import SearchRequest  # noqa: E402
from search.service import SearchService  # noqa: E402
from search.tantivy_index import TantivyBackend  # noqa: E402


@dataclass
class Result:
    """What one backend measured."""

    name: str
    docs_per_s: float = 0.0
    size_bytes: int = 0
    latency: dict[int, Latency] = field(default_factory=dict)


async def run_one(name: str, args: argparse.Namespace, requests: Sequence[SearchRequest]) -> Result:
    """Index, measure the size, then the query latencies of one backend in a temporary folder."""
    result = Result(name)
    folder = Path(tempfile.mkdtemp(prefix=f"lienhop-embedded-{name}-", dir=args.tmp))
    backend = TantivyBackend(folder)
    try:
        await backend.open()
        print(f"{name}: indexing {args.records:,} records...", file=sys.stderr)
        spent = await index_with(backend, args.records, args.seed, args.batch)
        result.docs_per_s = args.records / spent
        result.size_bytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        service = SearchService(backend)
        print(f"{name}: querying...", file=sys.stderr)
        for r in requests:  # warm-up
            await service.search(r)
        for concurrency in args.concurrency:
            result.latency[concurrency] = await measure(
                lambda i: service.search(requests[i]), len(requests), concurrency
            )
    finally:
        await backend.close()
        shutil.rmtree(folder, ignore_errors=True)
    return result


def print_table(results: Sequence[Result], records: int, queries: int, concurrency: Sequence[int]) -> None:
    """Indexing, size and latencies per backend."""
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


async def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--batch", type=int, default=1000, help="documents per backend.bulk call")
    parser.add_argument("--queries", type=int, default=1000, help="size of the fixed query mix")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated concurrency levels")
    parser.add_argument("--tmp", default=None, help="folder for the temporary indexes")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    requests = query_mix(args.queries)
    started = time.perf_counter()
    results = [await run_one("tantivy", args, requests)]
    print(f"tantivy: done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    print_table(results, args.records, len(requests), args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

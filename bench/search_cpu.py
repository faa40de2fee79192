"""CPU time per search and per indexed document on the embedded tantivy index, for paired comparisons.

``bench/search.py`` times wall clock, which on a shared machine mostly measures the other load; this
times the CPU this process spends (``time.process_time``: every thread of it, tantivy's included) on
the same generated records and query mix, taken from the ``bench/search.py`` of the checkout it runs
in (so an older checkout measures its own code). Run it from that checkout's root with its own venv:

    ../before/.venv/bin/python ../paired/bench/search_cpu.py --records 100000

It prints one JSON line: indexing CPU per document, and per query at concurrency 1 the median and
mean CPU through the search layer (``SearchService.search``) and through the backend's own search
with the request already parsed and checked (where the checkout's backend exposes it the same way).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _bench_search(checkout: Path) -> Any:
    """The checkout's own ``bench/search.py`` as a module (it puts the checkout on ``sys.path``)."""
    spec = importlib.util.spec_from_file_location("checkout_bench_search", checkout / "bench" / "search.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


async def run(checkout: Path, records: int, queries: int, passes: int) -> dict[str, float]:
    bench = _bench_search(checkout)
    from search.query import parse_query
    from search.service import SearchService
    from search.tantivy_index import TantivyBackend

    folder = Path(tempfile.mkdtemp(prefix="lienhop-bench-cpu-"))
    try:
        backend = TantivyBackend(folder)
        await backend.open()
        sizes = getattr(bench, "work_sizes", None)  # newer checkouts index one document per work
        docs = len(sizes(records, 20240601)) if sizes else records
        started = time.process_time()
        await bench.index_with(backend, records, 20240601, 1000)
        index_cpu = time.process_time() - started
        service = SearchService(backend)
        requests = bench.query_mix(queries)
        for request in requests[: min(200, len(requests))]:  # warm-up, as bench/search.py
            await service.search(request)
        layer: list[float] = []
        for _ in range(passes):
            for request in requests:
                started = time.process_time()
                await service.search(request)
                layer.append(time.process_time() - started)
        figures = {
            "index_cpu_us_per_doc": 1e6 * index_cpu / docs,
            "layer_cpu_ms_p50": 1e3 * statistics.median(layer),
            "layer_cpu_ms_mean": 1e3 * statistics.fmean(layer),
        }
        search = getattr(backend, "_search", None)
        handle = getattr(backend, "_handle", None)
        if search is not None and handle is not None:
            live = await backend.live_index()
            prepared = [(parse_query(r.q), service._validated(r)) for r in requests]
            raw: list[float] = []
            for _ in range(passes):
                for parsed, request in prepared:
                    started = time.process_time()
                    search(handle(live), parsed, request)
                    raw.append(time.process_time() - started)
            figures["backend_cpu_ms_p50"] = 1e3 * statistics.median(raw)
            figures["backend_cpu_ms_mean"] = 1e3 * statistics.fmean(raw)
            figures["layer_minus_backend_cpu_ms_mean"] = (
                figures["layer_cpu_ms_mean"] - figures["backend_cpu_ms_mean"]
            )
        await backend.close()
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=2, help="times the query mix is timed")
    args = parser.parse_args()
    checkout = Path.cwd()
    print(json.dumps(asyncio.run(run(checkout, args.records, args.queries, args.passes))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

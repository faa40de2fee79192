"""CPU time per search and per indexed document on the embedded tantivy index, for paired comparisons.

``bench/search.py`` times wall clock, which on a shared machine mostly measures the other load; this
times the CPU this process spends (``time.process_time``: every thread of it, tantivy's included) on
the same generated records and query mix, taken from the ``bench/search.py`` of the checkout it runs
in (so an older checkout measures its own code). Run it from that checkout's root with its own venv:

    ../before/.venv/bin/python ../paired/bench/search_cpu.py --records 100000

It prints one JSON line: indexing CPU per document (the process's, records generated and mapped by
``to_document`` included), and per query, the best of ``--passes`` passes over the warm query mix:
the search layer's own Python (``SearchService.search`` on its thread, the backend's search being on
a worker thread) and the backend's search called directly (``_search``, request parsed beforehand).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import shutil
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
        for request in requests:  # warm: the caches of parsed and compiled queries, as in a long run
            await service.search(request)
        live = await backend.live_index()
        assert live is not None
        handle = backend._handle(live)
        prepared = [(parse_query(r.q), service._validated(r)) for r in requests]
        layer: list[float] = []
        engine: list[float] = []
        for _ in range(passes):
            # Thread CPU, not process CPU: tantivy's merge threads may still run after indexing.
            # The layer's own work is on this thread (the backend's search runs on a worker thread);
            # the backend's search is then called directly here, for its cost alone.
            started = time.thread_time()
            for request in requests:
                await service.search(request)
            layer.append(time.thread_time() - started)
            started = time.thread_time()
            for parsed, request in prepared:
                backend._search(handle, parsed, request)
            engine.append(time.thread_time() - started)
        figures = {
            "index_cpu_us_per_doc": 1e6 * index_cpu / docs,
            "layer_python_us_per_query": 1e6 * min(layer) / len(requests),
            "backend_search_us_per_query": 1e6 * min(engine) / len(requests),
        }
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
    parser.add_argument("--passes", type=int, default=4, help="times the query mix is timed (best kept)")
    args = parser.parse_args()
    checkout = Path.cwd()
    print(json.dumps(asyncio.run(run(checkout, args.records, args.queries, args.passes))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Search benchmark: indexing throughput, index size and query latency of every search backend.

Records are synthetic but realistic (Vietnamese and English titles, authors, subjects, years, 13
members, about a third of the records being other members' copies of the same work), generated from a
fixed seed and streamed in batches, so memory stays bounded at any ``--records``. The index holds one
document per work (``indexer.documents.work_document``: a work held by three members is one document
of three records), so indexing is reported in works/s and in the records/s they carry.

For each backend (embedded tantivy and/or SQLite FTS5, chosen by ``--embedded``; the search node at
``--es URL``, or one started here):

* indexing docs/s through ``backend.bulk`` (and, for the search node, the client's own bulk helper on
  the same documents with the same index settings and chunking, batch by batch in turn with ours: the
  peer), and the index size on disk;
* latency p50/p99 of a fixed mix of 1,000 queries at concurrency 1 and 16, through the search layer
  (``SearchService``: parse, backend, highlights) and as the backend's raw query in the same run,
  interleaved in slices (SQLite: the SQL statements alone, replayed; tantivy: the native searcher
  calls the backend makes, with its compiled query objects and aggregation JSON, replayed, the facet
  aggregation on a second thread where the backend runs it there (indexes of 250k documents or more);
  search node: the engine calls the backend makes, its ``_msearch`` with the same bodies and
  ``filter_path``, the term statistics, any tier and any exact lookup among candidates asked after
  it, recorded and replayed on the client).
  The ratio layer/raw is our overhead.

    .venv/bin/python bench/search.py --records 100000
    .venv/bin/python bench/search.py --records 100000 --no-es --embedded both
    .venv/bin/python bench/search.py --records 1000000 --es http://127.0.0.1:9200 --keep
    .venv/bin/python bench/search.py --es http://127.0.0.1:9200 --es-alias bench-xxxxxxxx --no-request-cache
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.corpus import batched, generate, query_mix, work_sizes  # noqa: E402
from schemas.search import IndexDocument, SearchRequest  # noqa: E402
from search.query import parse_query  # noqa: E402

# ---------------------------------------------------------------------------------------- measuring


@dataclass
class Latency:
    p50: float
    p99: float
    qps: float


@dataclass
class Report:
    name: str
    docs: int = 0  # works: one document each
    records: int = 0
    docs_per_s: float = 0.0
    peer_docs_per_s: float | None = None
    size_bytes: int = 0
    latency: dict[tuple[str, int], Latency] = field(default_factory=dict)


async def _timed(
    run: Callable[[int], Awaitable[object]], indices: Sequence[int], concurrency: int
) -> tuple[list[float], float]:
    """Latencies of ``run(i)`` for each of ``indices``, ``concurrency`` at a time, and the wall time."""
    times: list[float] = []
    pending = iter(indices)

    async def worker() -> None:
        for i in pending:
            started = time.perf_counter()
            await run(i)
            times.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return times, time.perf_counter() - started


def _latency(times: list[float], wall: float) -> Latency:
    times = sorted(times)
    return Latency(
        p50=statistics.median(times) * 1000,
        p99=times[min(len(times) - 1, int(len(times) * 0.99))] * 1000,
        qps=len(times) / wall,
    )


async def measure(run: Callable[[int], Awaitable[object]], count: int, concurrency: int) -> Latency:
    """Latencies of ``run(i)`` for i in range(count), ``concurrency`` at a time."""
    return _latency(*await _timed(run, range(count), concurrency))


async def measure_pair(
    layer: Callable[[int], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
    count: int,
    concurrency: int,
    rounds: int = 10,
) -> tuple[Latency, Latency]:
    """Latencies of the layer and of the raw query over the same ``count`` requests.

    The requests go in ``rounds`` slices, each run by both, and who goes first alternates: the engine's
    caches, merges and the machine's other load are then the same for both, as far as they can be.
    """
    times: dict[str, list[float]] = {"layer": [], "raw": []}
    walls = {"layer": 0.0, "raw": 0.0}
    step = max(1, -(-count // rounds))
    for n, start in enumerate(range(0, count, step)):
        indices = range(start, min(count, start + step))
        order = [("layer", layer), ("raw", raw)]
        for name, run in order if n % 2 == 0 else order[::-1]:
            spent, wall = await _timed(run, indices, concurrency)
            times[name] += spent
            walls[name] += wall
    return _latency(times["layer"], walls["layer"]), _latency(times["raw"], walls["raw"])


async def index_with(backend: Any, records: int, seed: int, batch: int) -> float:
    """Index every record through ``backend.bulk`` into a new index, swap it live; seconds spent."""
    from search.backend import BulkReport

    new = await backend.create_index()
    spent = 0.0
    failed = 0
    for docs in batched(generate(records, seed), batch):
        started = time.perf_counter()
        report: BulkReport = await backend.bulk(docs, index=new)
        spent += time.perf_counter() - started
        failed += len(report.failed)
    started = time.perf_counter()
    await backend.refresh(new)
    spent += time.perf_counter() - started
    await backend.swap_alias(new)
    if failed:
        print(f"  warning: {failed} documents failed to index", file=sys.stderr)
    return spent


async def latencies(
    report: Report,
    requests: Sequence[SearchRequest],
    layer: Callable[[SearchRequest], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
) -> None:
    """Warm up both, then the layer and the raw query, interleaved, at concurrency 1 and 16."""
    warm = min(200, len(requests))
    await measure(lambda i: layer(requests[i]), warm, 4)
    await measure(raw, warm, 4)
    for concurrency in (1, 16):
        ours, theirs = await measure_pair(lambda i: layer(requests[i]), raw, len(requests), concurrency)
        report.latency[("layer", concurrency)] = ours
        report.latency[("raw", concurrency)] = theirs


# ------------------------------------------------------------------------------------------- SQLite


@contextlib.asynccontextmanager
async def _embedded(name: str, backend: Any, args: argparse.Namespace) -> AsyncIterator[tuple[Report, Any]]:
    """An embedded backend filled with the generated records in a temporary folder, removed after."""
    report = Report(name, docs=len(work_sizes(args.records, args.seed)), records=args.records)
    try:
        await backend.open()
        spent = await index_with(backend, args.records, args.seed, args.batch)
        report.docs_per_s = report.docs / spent
        report.size_bytes = sum(p.stat().st_size for p in backend.dir.rglob("*") if p.is_file())
        yield report, backend
    finally:
        await backend.close()
        shutil.rmtree(backend.dir, ignore_errors=True)


async def bench_sqlite(args: argparse.Namespace, requests: Sequence[SearchRequest]) -> Report | None:
    """The embedded backend in a temporary folder."""
    try:
        from search.sqlite_fts import SqliteBackend
    except ImportError:
        return None
    from search.service import SearchService

    folder = Path(tempfile.mkdtemp(prefix="lienhop-bench-sqlite-"))
    async with _embedded("sqlite", SqliteBackend(folder), args) as (report, backend):
        service = SearchService(backend)

        # The raw query: record the SQL statements one search runs (parameters inlined), replay them.
        live = await backend.live_index()
        assert live is not None
        path = backend._path(live)
        conn = backend._conn(live)
        scripts: list[list[str]] = []
        for request in requests:
            statements: list[str] = []
            conn.set_trace_callback(statements.append)
            try:
                backend._search(live, parse_query(request.q), request)
            finally:
                conn.set_trace_callback(None)
            scripts.append(statements)

        local = threading.local()

        def replay(i: int) -> None:
            raw_conn: sqlite3.Connection | None = getattr(local, "conn", None)
            if raw_conn is None:
                raw_conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                for pragma in ("temp_store=MEMORY", "cache_size=-65536", "mmap_size=268435456"):
                    raw_conn.execute(f"PRAGMA {pragma}")
                local.conn = raw_conn
            for statement in scripts[i]:
                raw_conn.execute(statement).fetchall()

        pool = ThreadPoolExecutor(4)  # as many threads as the backend's readers
        loop = asyncio.get_running_loop()
        try:
            await latencies(report, requests, service.search, lambda i: loop.run_in_executor(pool, replay, i))
        finally:
            pool.shutdown()
    return report


# ------------------------------------------------------------------------------------------ tantivy


def _outcome(result: Any) -> tuple[int | None, list[tuple[Any, int, int]]]:
    """What a tantivy search answered: its count and its hits (sort value or score, segment, doc)."""
    return result.count, [(v, a.segment_ord, a.doc) for v, a in result.hits]


class _Recorder:
    """A tantivy searcher that records the native calls made on it (name, args, kwargs) and forwards them."""

    def __init__(self, searcher: Any, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> None:
        self._searcher = searcher
        self._calls = calls
        self.outcomes: list[Any] = []  # (count, hits) of each search call, to check the replay against

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._searcher, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((name, args, kwargs))
            result = target(*args, **kwargs)
            if name == "search":
                self.outcomes.append(_outcome(result))
            return result

        return call


async def bench_tantivy(args: argparse.Namespace, requests: Sequence[SearchRequest]) -> Report | None:
    """The embedded tantivy backend in a temporary folder."""
    try:
        from search.tantivy_index import _FACET_POOL, TantivyBackend, parallel_facets
    except ImportError:
        return None
    from types import SimpleNamespace

    from search.service import SearchService

    folder = Path(tempfile.mkdtemp(prefix="lienhop-bench-tantivy-"))
    async with _embedded("tantivy", TantivyBackend(folder), args) as (report, backend):
        service = SearchService(backend)

        # The raw query: run each request once through the backend's own _search (outside the clock)
        # on a searcher that records every native call it makes (searcher.search with its query object,
        # limit and order, tie-group refetches, fast_field_values, doc, searcher.aggregate with the
        # facets' JSON and its retries); replay exactly those calls on a fresh searcher per request.
        live = await backend.live_index()
        assert live is not None
        index = backend._handle(live).index
        scripts: list[list[tuple[str, tuple[Any, ...], dict[str, Any]]]] = []
        outcomes: list[list[Any]] = []
        for request in requests:
            calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
            recorder = _Recorder(index.searcher(), calls)
            fake = SimpleNamespace(index=SimpleNamespace(searcher=lambda recorder=recorder: recorder))
            backend._search(fake, parse_query(request.q), service._validated(request))  # type: ignore[arg-type]
            scripts.append(calls)
            outcomes.append(recorder.outcomes)

        def replay(i: int) -> list[Any]:
            searcher = index.searcher()  # as the backend: one snapshot per search
            calls = scripts[i]
            aside = [n for n, (name, _, _) in enumerate(calls) if name == "aggregate"]
            if not aside or not parallel_facets(searcher):
                return [getattr(searcher, name)(*a, **kw) for name, a, kw in calls]
            # As the backend on a large index: the facet aggregations on its facet thread meanwhile.
            results: list[Any] = [None] * len(calls)

            def facets() -> None:
                for n in aside:
                    results[n] = searcher.aggregate(*calls[n][1], **calls[n][2])

            pending = _FACET_POOL.submit(facets)
            for n, (name, a, kw) in enumerate(calls):
                if name != "aggregate":
                    results[n] = getattr(searcher, name)(*a, **kw)
            pending.result()
            return results

        # The replay must do the engine work the backend did: the same answers to the same searches.
        for i, request in enumerate(requests):
            got = [
                _outcome(r) for (name, _, _), r in zip(scripts[i], replay(i), strict=True) if name == "search"
            ]
            assert got == outcomes[i], f"replay differs from the backend for {request!r}"

        await latencies(report, requests, service.search, lambda i: asyncio.to_thread(replay, i))
    return report


# ------------------------------------------------------------------------------------- search node


async def index_pair(backend: Any, records: int, seed: int, batch: int) -> tuple[float, float]:
    """Index every record through ``backend.bulk`` and, as the peer, through the client's own bulk helper.

    Same documents, same index settings (the backend's mapping, in build mode), same chunking, and
    batch by batch in turn, so both see the same JVM warm-up, merges and machine load. The peer gets
    its actions ready-made (``to_source`` outside its clock); ours start from the ``IndexDocument``.
    Both clocks end with restoring the refresh interval and refreshing. Ours goes live, the peer's
    index is deleted. Returns (our seconds, peer seconds).
    """
    from search.elastic.backend import BULK_CHUNK, BULK_CHUNK_BYTES
    from search.elastic.mapping import index_body, to_source

    client = backend.client
    if backend.resolved_engine == "opensearch":
        from opensearchpy.helpers import async_bulk
    else:
        from elasticsearch.helpers import async_bulk  # type: ignore[assignment]

    new = await backend.create_index()
    peer = f"{backend.alias}-peer"
    await client.indices.create(index=peer, body=index_body(building=True))
    ours_spent = peer_spent = 0.0
    failed = 0
    for n, docs in enumerate(batched(generate(records, seed), batch)):
        actions = [{"_index": peer, "_id": d.id, "_source": to_source(d)} for d in docs]

        async def run_ours(docs: list[IndexDocument] = docs) -> float:
            started = time.perf_counter()
            report = await backend.bulk(docs, index=new)
            nonlocal failed
            failed += len(report.failed)
            return time.perf_counter() - started

        async def run_peer(actions: list[dict[str, Any]] = actions) -> float:
            started = time.perf_counter()
            await async_bulk(client, actions, chunk_size=BULK_CHUNK, max_chunk_bytes=BULK_CHUNK_BYTES)
            return time.perf_counter() - started

        if n % 2 == 0:
            ours_spent += await run_ours()
            peer_spent += await run_peer()
        else:
            peer_spent += await run_peer()
            ours_spent += await run_ours()
    started = time.perf_counter()
    await backend.refresh(new)
    ours_spent += time.perf_counter() - started
    started = time.perf_counter()
    await client.indices.put_settings(index=peer, body={"index": {"refresh_interval": None}})
    await client.indices.refresh(index=peer)
    peer_spent += time.perf_counter() - started
    await client.indices.delete(index=peer)
    await backend.swap_alias(new)
    if failed:
        print(f"  warning: {failed} documents failed to index", file=sys.stderr)
    return ours_spent, peer_spent


_Call = tuple[str, Any, str | None]


async def _engine_calls(backend: Any, service: Any, request: SearchRequest) -> list[_Call]:
    """The engine calls ``service.search(request)`` makes: ("msearch", bodies, filter_path) and
    ("stats", artificial document, None), in order."""
    calls: list[_Call] = []
    msearch, stats = backend.raw_msearch, backend.term_stats

    async def record_msearch(bodies: Any, index: Any = None, filter_path: Any = None) -> Any:
        calls.append(("msearch", list(bodies), filter_path))
        return await msearch(bodies, index=index, filter_path=filter_path)

    async def record_stats(doc: Any, index: Any = None) -> Any:
        calls.append(("stats", doc, None))
        return await stats(doc, index=index)

    backend.raw_msearch, backend.term_stats = record_msearch, record_stats
    try:
        await service.search(request)
    finally:
        del backend.raw_msearch, backend.term_stats  # the class's methods again
    return calls


async def _replay(client: Any, alias: str, call: _Call) -> object:
    """One recorded engine call, sent by the client alone."""
    from search.elastic.client import term_stats_body

    kind, payload, filter_path = call
    if kind == "stats":
        return await client.termvectors(index=alias, body=term_stats_body(payload))
    lines = [line for body in payload for line in ({}, body)]
    return await client.msearch(index=alias, body=lines, filter_path=filter_path)


async def bench_elastic(args: argparse.Namespace, requests: Sequence[SearchRequest]) -> Report:
    """The search node at ``--es`` or one started here (stopped at the end).

    ``--es-alias`` measures the queries on an index kept by an earlier run (``--keep``) instead of
    indexing: no indexing figures then, and the index is left in place. ``--no-request-cache`` turns
    the shard request cache off for the measurement: the mix repeats requests, and the layer and the
    raw query run each slice in turn, so with the cache (the engine's default, which serves the
    ``size: 0`` total and facet requests again until the index changes) the second runner of a slice
    finds those answers cached.
    """
    from search.elastic import ElasticBackend
    from search.service import SearchService

    node = None
    url = args.es
    if url is None:
        from tests.search_node import start_node

        node = start_node()
        url = node.url
        print(f"  started a search node at {url} in {node.started_in:.1f} s", file=sys.stderr)
    reuse = args.es_alias is not None
    alias = args.es_alias if reuse else f"bench-{uuid.uuid4().hex[:8]}"
    backend = ElasticBackend(url, alias=alias)
    report = Report("search node")
    try:
        await backend.open()
        report.name = f"{backend.resolved_engine}"
        if reuse:
            report.docs = await backend.count()
        else:
            report.docs, report.records = len(work_sizes(args.records, args.seed)), args.records
            spent, peer_spent = await index_pair(backend, args.records, args.seed, args.batch)
            report.docs_per_s = report.docs / spent
            report.peer_docs_per_s = report.docs / peer_spent
        live = await backend.live_index()
        client = backend.client
        cache = None if args.request_cache else False  # None: the engine's default (on)
        await client.indices.put_settings(index=live, body={"index": {"requests.cache.enable": cache}})
        await client.indices.flush(index=live)
        stats = await client.indices.stats(index=live, metric="store")
        report.size_bytes = int(stats["_all"]["primaries"]["store"]["size_in_bytes"])

        # The raw query is what the backend sends the engine for the same search: each request is run
        # once through the backend (outside the clock) recording its engine calls (the plan's
        # _msearch with its filter_path; for several unquoted words the term statistics sent
        # alongside and any tier asked again; for one-word terms, phrases and prefixes the exact
        # lookup among the candidates, and the hits request when that page is not certified), which
        # are then replayed on the client alone.
        service = SearchService(backend)
        scripts = [await _engine_calls(backend, service, r) for r in requests]

        async def replay(i: int) -> None:
            calls = scripts[i]
            if len(calls) > 1 and calls[1][0] == "stats":  # sent together, as the backend does
                await asyncio.gather(_replay(client, alias, calls[0]), _replay(client, alias, calls[1]))
                calls = calls[2:]
            for call in calls:
                await _replay(client, alias, call)

        await latencies(report, requests, service.search, replay)
    finally:
        if backend.resolved_engine is not None and not reuse:
            with contextlib.suppress(Exception):  # left behind only when indexing failed midway
                await backend.client.indices.delete(index=f"{alias}-peer")
        if not args.keep and not reuse:
            for name in await backend.list_indexes():
                await backend.client.indices.delete(index=name)
        await backend.close()
        if node is not None:
            node.stop()
    return report


# ------------------------------------------------------------------------------------------- output


def print_table(reports: Sequence[Report], queries: int) -> None:
    """One block per backend: indexing, size, then latencies (ms) and the layer/raw ratio."""
    print()
    head = f"{'backend':<12} {'works':>9} {'records':>9} {'works/s':>9} {'records/s':>10}"
    print(f"{head} {'peer works/s':>12} {'ours/peer':>9} {'size MB':>9}")
    for r in reports:
        peer = f"{r.peer_docs_per_s:,.0f}" if r.peer_docs_per_s else "-"
        ratio = f"{r.docs_per_s / r.peer_docs_per_s:.2f}" if r.peer_docs_per_s else "-"
        records_per_s = r.docs_per_s * r.records / r.docs if r.docs else 0.0
        print(
            f"{r.name:<12} {r.docs:>9,} {r.records:>9,} {r.docs_per_s:>9,.0f} {records_per_s:>10,.0f} "
            f"{peer:>12} {ratio:>9} {r.size_bytes / 1e6:>9.1f}"
        )
    print()
    print(
        f"{'backend':<12} {'conc':>4} {'layer p50':>10} {'p99':>8} {'qps':>7} "
        f"{'raw p50':>9} {'p99':>8} {'qps':>7} {'p50 ratio':>9} {'p99 ratio':>9}"
    )
    for r in reports:
        for concurrency in (1, 16):
            layer, raw = r.latency[("layer", concurrency)], r.latency[("raw", concurrency)]
            print(
                f"{r.name:<12} {concurrency:>4} {layer.p50:>10.2f} {layer.p99:>8.2f} {layer.qps:>7.0f} "
                f"{raw.p50:>9.2f} {raw.p99:>8.2f} {raw.qps:>7.0f} "
                f"{layer.p50 / raw.p50:>9.2f} {layer.p99 / raw.p99:>9.2f}"
            )
    print(f"\nlatencies in ms over {queries:,} queries on works; ratio = search layer / raw query (overhead)")


async def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on every available backend and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="records to index (default 1M)")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--batch", type=int, default=1000, help="documents per backend.bulk call")
    parser.add_argument("--queries", type=int, default=1000, help="size of the fixed query mix")
    parser.add_argument("--es", help="URL of a running Elasticsearch 8 / OpenSearch node")
    parser.add_argument("--no-es", action="store_true", help="skip the search node")
    parser.add_argument(
        "--embedded",
        choices=("tantivy", "sqlite", "both"),
        default="tantivy",
        help="embedded backend(s) to measure (default tantivy, the default embedded backend)",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite FTS5 (with --embedded both)")
    parser.add_argument("--no-embedded", action="store_true", help="skip every embedded backend")
    parser.add_argument("--keep", action="store_true", help="keep the search node's bench indexes")
    parser.add_argument(
        "--es-alias", help="measure queries on this existing alias of the search node (kept), no indexing"
    )
    parser.add_argument(
        "--no-request-cache",
        dest="request_cache",
        action="store_false",
        help="search node: measure with the shard request cache off",
    )
    args = parser.parse_args(argv)

    requests = query_mix(args.queries)
    reports: list[Report] = []
    embedded = (
        [] if args.no_embedded else ["tantivy", "sqlite"] if args.embedded == "both" else [args.embedded]
    )
    if args.no_sqlite:
        embedded = [name for name in embedded if name != "sqlite"]
    for name in embedded:
        print(f"{name}: indexing {args.records:,} records...", file=sys.stderr)
        bench = bench_tantivy if name == "tantivy" else bench_sqlite
        embedded_report = await bench(args, requests)
        if embedded_report is not None:
            reports.append(embedded_report)
    if not args.no_es:
        print(f"search node: indexing {args.records:,} records...", file=sys.stderr)
        reports.append(await bench_elastic(args, requests))
    print_table(reports, len(requests))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

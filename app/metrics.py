"""Prometheus metrics at ``GET /metrics``, correct across server workers.

Two kinds of figures:

* Counted by each process as it answers (requests by route, method and status; latency histograms).
  Under ``lienhop serve`` every worker writes them to files in ``PROMETHEUS_MULTIPROC_DIR`` (the
  data folder's ``metrics/``, emptied when the server starts), and a scrape, whichever worker answers
  it, adds up every worker's files: prometheus-client's multiprocess mode.
* Read at scrape time from the shared state, so they are right whichever worker answers: harvest
  pages, records and failures per member (the store's runs, which CLI harvests write too), the index
  lag (store change sequence minus the index position), jobs, and whether this worker leads.

The route label is the route's path template (``/records/{record_id}``), never the requested path,
so the number of series stays bounded whatever clients ask.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store.tables import runs

from .context import AppContext

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "lienhop_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "lienhop_http_request_duration_seconds",
    "Time from receiving a request to sending the last byte of its answer, by route template.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def prepare_multiprocess_dir(home: Path) -> Path:
    """Point prometheus-client at an empty ``<home>/metrics`` (before any worker starts)."""
    folder = Path(os.environ.get(MULTIPROC_ENV) or (home / "metrics")).resolve()
    # Files of an earlier run would add its counts to this one's.
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def mark_process_dead() -> None:
    """Drop this worker's live gauges (called when it shuts down)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class MetricsMiddleware:
    """Counts every HTTP request and times it (a pure ASGI middleware: streaming answers stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        answered = False

        async def counted(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
                # Counted before the answer leaves: a client that scrapes right after sees its request.
                REQUESTS.labels(_route(scope), method, str(message["status"])).inc()
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            if not answered:  # an unhandled error: the server answers 500 outside this middleware
                REQUESTS.labels(_route(scope), method, "500").inc()
            LATENCY.labels(_route(scope), method).observe(time.perf_counter() - started)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class _Families(Collector):
    """Metric families computed before the scrape (a registry's collectors cannot await)."""

    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> Iterable[Any]:
        return self.families


async def _shared_families(ctx: AppContext, leader: bool) -> list[Any]:
    families: list[Any] = []
    is_leader = GaugeMetricFamily(
        "lienhop_worker_leader", "1 when the worker that answered this scrape leads (indexes, schedules)."
    )
    is_leader.add_metric([], 1.0 if leader else 0.0)
    families.append(is_leader)

    up = GaugeMetricFamily("lienhop_store_up", "1 when the record store answered this scrape.")
    families.append(up)
    try:
        max_seq = await ctx.store.max_seq()
    except Exception:  # a scrape must answer when the database does not: that is when it matters
        up.add_metric([], 0.0)
        return families
    up.add_metric([], 1.0)
    seq = GaugeMetricFamily("lienhop_store_max_seq", "Highest change number committed to the store.")
    seq.add_metric([], float(max_seq))
    families.append(seq)
    if ctx.backend is not None:
        try:
            position = await ctx.backend.get_position()
        except Exception:  # an unreachable search node shows as a missing series, not a failed scrape
            position = None
        if position is not None:
            lag = GaugeMetricFamily(
                "lienhop_index_lag", "Store changes the search index has not applied yet."
            )
            lag.add_metric([], float(max(0, max_seq - position)))
            families.append(lag)

    jobs = GaugeMetricFamily(
        "lienhop_jobs",
        "Background jobs of every server worker (kept in the store), by kind and state.",
        labels=["kind", "state"],
    )
    tally: dict[tuple[str, str], int] = {}
    for job in await ctx.jobs.list():
        tally[(job.kind, job.state)] = tally.get((job.kind, job.state), 0) + 1
    for (kind, state), n in sorted(tally.items()):
        jobs.add_metric([kind, state], float(n))
    families.append(jobs)
    try:
        families.extend(await _harvest_families(ctx))
    except Exception:
        up.samples.clear()
        up.add_metric([], 0.0)
    return families


async def _harvest_families(ctx: AppContext) -> list[Any]:
    """Totals over every run in the store, per member and kind (harvest, import, rederive)."""
    query = (
        select(
            runs.c.member,
            runs.c.kind,
            func.count(),
            func.sum(case((runs.c.ok.is_(False), 1), else_=0)),
            func.sum(runs.c.pages),
            *(func.sum(runs.c[name]) for name in _RECORD_COUNTS),
        )
        .group_by(runs.c.member, runs.c.kind)
        .order_by(runs.c.member, runs.c.kind)
    )
    async with ctx.store.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    run_count = CounterMetricFamily(
        "lienhop_harvest_runs", "Runs by member and kind.", labels=["member", "kind"]
    )
    failed = CounterMetricFamily(
        "lienhop_harvest_errors", "Runs that failed, by member and kind.", labels=["member", "kind"]
    )
    pages = CounterMetricFamily(
        "lienhop_harvest_pages", "OAI-PMH pages (or import batches) committed.", labels=["member", "kind"]
    )
    records = CounterMetricFamily(
        "lienhop_harvest_records",
        "Records received, by member, kind and outcome (added, updated, deleted, unchanged, quarantined).",
        labels=["member", "kind", "outcome"],
    )
    for member, kind, count, failures, page_sum, *outcomes in rows:
        run_count.add_metric([member, kind], float(count))
        failed.add_metric([member, kind], float(failures or 0))
        pages.add_metric([member, kind], float(page_sum or 0))
        for name, value in zip(_RECORD_COUNTS, outcomes, strict=True):
            records.add_metric([member, kind, name], float(value or 0))
    return [run_count, failed, pages, records]


_RECORD_COUNTS = ("added", "updated", "deleted", "unchanged", "quarantined")


async def render(ctx: AppContext, leader: bool) -> tuple[bytes, str]:
    """The exposition text: every worker's counters plus the figures read from the shared state."""
    if os.environ.get(MULTIPROC_ENV):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
    else:
        counted = REGISTRY  # one process (tests, an app mounted elsewhere): its own counts are all
    shared = CollectorRegistry()
    shared.register(_Families(await _shared_families(ctx, leader)))
    return generate_latest(counted) + generate_latest(shared), CONTENT_TYPE_LATEST

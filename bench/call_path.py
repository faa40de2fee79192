"""Follow one search through our modules and count how often each module is entered.

Issue #9 asked that one search read top to bottom through the modules of a backend: no module
entered more than twice. A module is *entered* by a call from another of our modules; each distinct
call site (caller function -> callee function) counts once, so a loop over the hits of a page is one
entry, not one per hit. Returns are not entries: the caller simply continues. The pydantic models of
``schemas/`` are data used everywhere and are left out, as are the standard library and third-party
code.

Also prints the size of every module (median and largest), generated data aside.

    python bench/call_path.py                      # the embedded tantivy index
    python bench/call_path.py --search-url URL     # also an Elasticsearch/OpenSearch node
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import uuid
from collections import defaultdict
from collections.abc import Awaitable
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas.search import SearchRequest  # noqa: E402
from search.backend import SearchBackend  # noqa: E402
from search.query import parse_query  # noqa: E402
from search.service import SearchService  # noqa: E402
from search.tantivy_index import TantivyBackend  # noqa: E402
from tests.search.corpus import CORPUS  # noqa: E402

OURS = ("search", "store", "indexer", "app", "harvesters")
PACKAGES = ("schemas", "search", "store", "indexer", "app", "harvesters", "usage")
# the same query mix a user sends: words, a slip that needs correcting, a filter, a sort
QUERIES = (
    SearchRequest.from_params("thư viện số", size=10),
    SearchRequest.from_params("thu vein so", size=10),
    SearchRequest.from_params("khoa học", member=["hanoi-nl"], sort="year_desc", size=10),
)


def _module(frame: FrameType) -> str | None:
    name = frame.f_globals.get("__name__", "")
    return name if isinstance(name, str) and name.split(".")[0] in OURS else None


class Tracer:
    """Distinct cross-module call sites into each of our modules."""

    def __init__(self) -> None:
        self.edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.active = False

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if not self.active or event != "call":
            return
        callee = _module(frame)
        name = frame.f_code.co_name
        # dataclass constructors, hashes and comparisons are data, like the models of schemas/
        if callee is None or name.startswith("__"):
            return
        caller_frame = frame.f_back
        # through the standard library or a third party (asyncio, pydantic): the nearest frame of ours
        while caller_frame is not None and _module(caller_frame) is None:
            caller_frame = caller_frame.f_back
        caller = _module(caller_frame) if caller_frame is not None else None
        if caller is None or caller == callee:
            return
        site = f"{caller}.{caller_frame.f_code.co_name}" if caller_frame else caller
        self.edges[callee].add((site, name))


# Installed before anything starts a thread: tantivy searches and facets run on worker threads, and
# threading.setprofile reaches only threads started after it.
TRACER = Tracer()
sys.setprofile(TRACER)
threading.setprofile(TRACER)


Found = dict[str, dict[str, set[tuple[str, str]]]]


async def _traced(call: Awaitable[object]) -> dict[str, set[tuple[str, str]]]:
    TRACER.edges = defaultdict(set)
    TRACER.active = True
    try:
        await call
    finally:
        TRACER.active = False
    return TRACER.edges


async def _follow(backend: SearchBackend) -> tuple[Found, Found]:
    """One engine search per query (the backend's own path), then the service's whole answer, which
    may search the engine up to three times: as typed, corrected, and for a did-you-mean."""
    engine = {r.q: await _traced(backend.search(parse_query(r.q), r)) for r in QUERIES}
    service = SearchService(backend)
    answer = {r.q: await _traced(service.search(r)) for r in QUERIES}
    return engine, answer


async def _tantivy() -> tuple[Found, Found]:
    with tempfile.TemporaryDirectory() as tmp:
        backend = TantivyBackend(Path(tmp) / "tantivy")
        await backend.open()
        try:
            await backend.bulk(CORPUS)
            await backend.refresh()
            return await _follow(backend)
        finally:
            await backend.close()


async def _elastic(url: str) -> tuple[Found, Found]:
    from search.elastic import ElasticBackend

    backend = ElasticBackend(url, alias=f"callpath-{uuid.uuid4().hex[:8]}")
    await backend.open()
    try:
        await backend.bulk(CORPUS)
        await backend.refresh()
        return await _follow(backend)
    finally:
        for name in await backend.list_indexes():
            await backend.client.indices.delete(index=name)
        await backend.close()


def _report(title: str, found: Found, verbose: bool) -> int:
    worst = 0
    print(f"\n{title}: entries per module (distinct call sites from other modules of ours)")
    print(f"{'query':<14} {'modules':>7} {'max':>4}  entered more than twice")
    for query, edges in found.items():
        counts = {module: len(sites) for module, sites in edges.items()}
        top = max(counts.values(), default=0)
        worst = max(worst, top)
        over = ", ".join(f"{m} ({n})" for m, n in sorted(counts.items()) if n > 2) or "none"
        print(f"{query:<14} {len(counts):>7} {top:>4}  {over}")
        if verbose:
            for module, sites in sorted(edges.items()):
                for caller, callee in sorted(sites):
                    print(f"    {module}.{callee} <- {caller}")
    return worst


def _sizes() -> None:
    lines = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "__init__.py":
                continue
            lines[str(path.relative_to(ROOT))] = sum(1 for _ in path.open(encoding="utf-8"))
    largest = sorted(lines.items(), key=lambda item: item[1], reverse=True)[:3]
    print(
        f"\nmodules: {len(lines)}, median {statistics.median(lines.values()):.0f} lines, "
        f"largest {', '.join(f'{p} ({n})' for p, n in largest)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--search-url", help="also follow a search on this Elasticsearch/OpenSearch node")
    parser.add_argument("--verbose", action="store_true", help="print every call site")
    args = parser.parse_args()
    runs = [("tantivy", _tantivy())]
    if args.search_url:
        runs.append(("elasticsearch/opensearch", _elastic(args.search_url)))
    for name, run in runs:
        engine, answer = asyncio.run(run)
        _report(f"{name}, one engine search", engine, args.verbose)
        _report(f"{name}, the service's whole answer", answer, args.verbose)
    _sizes()


if __name__ == "__main__":
    main()

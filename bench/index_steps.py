"""Where the CPU of making a harvest searchable goes, step by step, and the best end-to-end ratio it allows.

``bench/harvest.py --e2e`` compares harvested-to-searchable with harvested-to-stored on the same
machine. When both runs keep the same cores busy, their ratio can be no better than
``H / (H + I)``: ``H`` the CPU a record costs to harvest and store, ``I`` the CPU it costs to index.
This bench measures both on the bench's own provider, and ``I`` step by step, the way the index
follower runs them (``indexer.pipeline.Indexer``), a page of 500 works at a time:

* harvest: ``harvest_members`` into a fresh SQLite store (this process and its parse workers);
* feed: the store's work changes (``work_changes_since``);
* read: the works' live records (``works_records``, validated back into ``Record``);
* documents: the search documents (``indexer.documents.work_document``);
* convert: tantivy documents (``search.tantivy_schema.to_tantivy``);
* engine: tantivy indexing those ready-made documents, commit included (``add_document``, ``commit``):
  Rust, no Python of ours. ``H / (H + engine)`` is the ratio if every Python step cost nothing;
* sync: ``Indexer.sync`` itself over the same store, into a fresh index (the sum, plus the glue).

The garbage collector is set as in the follower's process (``_collect_less``). The store-only run
of ``bench/harvest.py`` also spends ~11 µs a record in the provider; it is not counted here.

    .venv/bin/python bench/index_steps.py --records 50000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harvest import _cpu_seconds, provider  # noqa: E402

PAGE = 500  # works a step handles at a time, as the follower's rounds during a harvest


async def _harvest(url: str, home: Path) -> tuple[float, int]:
    from harvesters.runner import harvest_members
    from schemas.member import MemberCreate
    from schemas.settings import Settings
    from store.front import RecordStore

    settings = Settings(home=home, harvest_allow_networks="127.0.0.0/8")
    store = await RecordStore.open(settings.db_url)
    try:
        member = MemberCreate(code="BENCH", name_vi="Bench", oai_url=url, metadata_prefix="oai_dc")
        await store.add_member(member)
        began = sum(_cpu_seconds())  # this process and its parse workers
        [report] = await harvest_members(store, settings)
        assert report.ok, report.error
        return sum(_cpu_seconds()) - began, report.added
    finally:
        await store.close()


async def _steps(home: Path) -> dict[str, float]:
    """CPU seconds of each indexing step over the whole store at ``home``."""
    from indexer.documents import work_document
    from indexer.pipeline import Indexer
    from schemas.settings import Settings
    from search.factory import open_backend
    from search.tantivy_index import TantivyBackend
    from search.tantivy_schema import to_tantivy
    from store.front import RecordStore

    settings = Settings(home=home)
    spent = dict.fromkeys(("feed", "read", "documents", "convert", "engine", "sync"), 0.0)
    store = await RecordStore.open(settings.db_url)
    try:
        began = time.process_time()
        changes = await store.work_changes_since(0, limit=10_000_000)
        spent["feed"] = time.process_time() - began
        ids = [work_id for work_id, _, live in changes if live]
        converted = []
        for start in range(0, len(ids), PAGE):
            page = ids[start : start + PAGE]
            began = time.process_time()
            held = await store.works_records(page, raw=False)
            spent["read"] += time.process_time() - began
            began = time.process_time()
            docs = [work_document(w, 1, [(s.id, s.record) for s in held[w]]) for w in page]
            spent["documents"] += time.process_time() - began
            began = time.process_time()
            converted.extend(to_tantivy(doc) for doc in docs)
            spent["convert"] += time.process_time() - began
        with tempfile.TemporaryDirectory() as folder:
            # the backend's own index, writer and commit, fed the converted documents directly
            engine = TantivyBackend(Path(folder))
            await engine.open()
            handle = engine._handle(engine._live())
            began = time.process_time()
            writer = engine._writer(handle)
            for doc in converted:
                writer.add_document(doc)
            handle.dirty = True
            engine._commit(handle)
            spent["engine"] = time.process_time() - began
            await engine.close()
        del converted
        shutil.rmtree(home / "index", ignore_errors=True)
        backend = await open_backend(settings)
        try:
            began = time.process_time()
            await Indexer(store, backend).sync()
            spent["sync"] = time.process_time() - began
        finally:
            await backend.close()
    finally:
        await store.close()
    return spent


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3, help="runs; the median of each figure is shown")
    args = parser.parse_args()

    from indexer.follower_process import _collect_less

    runs: list[dict[str, Any]] = []
    with provider(args.records, "oai_dc") as url:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                home = Path(folder)
                harvest, records = asyncio.run(_harvest(url, home))
                assert records == args.records, records
                _collect_less()
                steps = asyncio.run(_steps(home))
                runs.append({"harvest": harvest, **steps})
    per = {k: 1e6 * statistics.median(r[k] for r in runs) / args.records for k in runs[0]}
    _print(per, args)


def _print(per: dict[str, float], args: argparse.Namespace) -> None:
    python = per["feed"] + per["read"] + per["documents"] + per["convert"]
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{args.records} records, median of {args.runs} run(s), CPU µs per record; load average {load}\n")
    print(f"{'step':<34} {'µs/record':>10}")
    for name in ("harvest", "feed", "read", "documents", "convert", "engine", "sync"):
        print(f"{name:<34} {per[name]:>10.1f}")
    print(f"{'  of which Python (feed..convert)':<34} {python:>10.1f}")
    h = per["harvest"]
    print("\nbest end to end / store-only if both runs keep the same cores busy, H / (H + I):")
    print(f"  I = sync (as it is)                 {h / (h + per['sync']):.2f}x")
    print(f"  I = engine only (no Python at all)  {h / (h + per['engine']):.2f}x")
    need = h / 0.8 - h
    python_budget = need - per["engine"]
    print(f"  0.8x needs I <= {need:.0f} µs/record, so Python <= {python_budget:.0f} (now {python:.0f})")


if __name__ == "__main__":
    main()

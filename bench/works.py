"""Clustering records into works: what it adds to a page commit, and what re-clustering the store costs.

For each ``--sizes`` N, records from ``bench/api.py``'s generator (the works of ``bench/search.py``, a
third of the records other members' copies) are committed a page of one member at a time into a fresh
SQLite store:

* **commit CPU**: process CPU time (every thread: SQLite runs on the driver's) spent inside
  ``RecordStore.commit_rows``, per record, for the pages of the records already made into rows as a
  harvest's parse workers make them; once with the works kept as every commit keeps them, once without
  (``recluster_page`` replaced by a no-op for that run: the store-only path), in turn (``--pairs``
  pairs, the order alternating), medians and their ratio;
* **recluster_all**: ``RecordStore.recluster_all`` (what ``lienhop rederive`` and ``reindex`` run) on the
  clustered store, each run in a child process of its own so the peak RSS (``VmHWM``) is that run's
  alone: wall and CPU time, peak RSS, and RSS before it started. The peer, in the same kind of child, in turn:
  reading every live record's ``data`` column in the same batches of 2,000 (decoded from JSON by the
  column type, as ``recluster_all`` reads it: what any rebuild must at least do), and the store's
  file size. ``--baseline DIR`` runs ``recluster_all`` a second time per round with the ``store``
  package of DIR (``git archive`` of an earlier commit): before and after a change, interleaved.

    .venv/bin/python bench/works.py --sizes 100000 300000
    .venv/bin/python bench/works.py --sizes 1000000 --pairs 1 --runs 2 --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_BATCH = 2000  # as store/work_rebuild.py reads


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


# ------------------------------------------------------------------------------ commit CPU


async def _build(path: Path, count: int, clustered: bool, start: int = 0) -> float:
    """Commit ``count`` records (from the ``start``-th) into the store at ``path``; CPU µs per record
    spent committing pages."""
    import store.records
    from bench.api import fill
    from schemas.record import Record
    from store.front import RecordStore
    from store.rows import record_row

    async def no_clustering(*_args: Any) -> None:
        return None

    saved = store.records.recluster_page
    if not clustered:
        store.records.recluster_page = no_clustering  # type: ignore[assignment]
    spent = 0.0
    count_done = 0
    db = await RecordStore.open(_url(path))
    try:

        async def commit(member: str, page: list[Record]) -> None:
            nonlocal spent, count_done
            rows = [record_row(r) for r in page]  # a harvest's parse worker makes these
            started = time.process_time()
            await db.commit_rows(member, None, rows, state=None)
            spent += time.process_time() - started
            count_done += len(rows)

        await fill(db, count, commit, start=start)
    finally:
        store.records.recluster_page = saved
        await db.close()
    return spent / count_done * 1e6


# ------------------------------------------------------------------------------ child runs


async def _recluster_child(path: Path) -> dict[str, Any]:
    from store.front import RecordStore

    db = await RecordStore.open(_url(path))
    try:
        before = _rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        changed = await db.recluster_all()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await db.close()
    return {"wall": wall, "cpu": cpu, "before_mb": before, "changed": changed}


async def _read_child(path: Path) -> dict[str, Any]:
    from sqlalchemy import select

    from store.front import RecordStore
    from store.tables import records

    db = await RecordStore.open(_url(path))
    try:
        before = _rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        last, seen = 0, 0
        async with db.engine.connect() as conn:
            while True:
                query = (
                    select(records.c.pk, records.c.work_id, records.c.data)
                    .where(records.c.pk > last, records.c.deleted.is_(False))
                    .order_by(records.c.pk)
                    .limit(_BATCH)
                )
                batch = (await conn.execute(query)).all()
                if not batch:
                    break
                seen += len(batch)
                last = batch[-1].pk
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await db.close()
    return {"wall": wall, "cpu": cpu, "before_mb": before, "changed": seen}


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """The process's peak RSS: ``VmHWM``, the high-water mark of this process image alone (after a
    fork and exec, ``ru_maxrss`` still counts the parent's RSS at the fork)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(kind: str, path: str, code: str | None) -> None:
    if code:
        sys.path.insert(0, code)
    sys.path.insert(1 if code else 0, str(ROOT))
    run = _recluster_child if kind == "recluster" else _read_child
    result = asyncio.run(run(Path(path)))
    result["peak_mb"] = _peak_mb()
    import store

    result["store"] = str(Path(store.__file__).parent)
    print(json.dumps(result))


def _spawn(kind: str, path: Path, code: str | None = None) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", kind, str(path)]
    if code:
        argv += ["--code", code]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------------- driver


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _unlink(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _commit_line(label: str, without_us: list[float], with_us: list[float]) -> str:
    w, p = statistics.median(with_us), statistics.median(without_us)
    line = (
        f"{label:>16} {p:>11.1f} {w:>11.1f} {w / p:>7.2f}x {w - p:>11.1f}   {_load()}"
        f"   ({' '.join(f'{x:.0f}' for x in without_us)} / {' '.join(f'{x:.0f}' for x in with_us)})"
    )
    print(line, file=sys.stderr)
    return line


def _pairs(
    tmp: Path, size: int, pairs: int, extend: int, store: Path | None
) -> tuple[list[float], list[float], Path]:
    """Commit CPU with and without works, ``pairs`` times in alternating order: of the whole build of
    ``size`` records, or (``extend``) of ``extend`` more records onto copies of ``store``."""
    with_us: list[float] = []
    without_us: list[float] = []
    kept = store
    for n in range(pairs):
        for clustered in (True, False) if n % 2 == 0 else (False, True):
            path = tmp / f"{size}-{n}-{'works' if clustered else 'plain'}{'-extended' if extend else ''}.db"
            print(f"{size:,} records (+{extend:,}), works {clustered}, load {_load()}", file=sys.stderr)
            if extend:
                assert store is not None
                shutil.copyfile(store, path)
                us = asyncio.run(_build(path, extend, clustered, start=size))
            else:
                us = asyncio.run(_build(path, size, clustered))
            (with_us if clustered else without_us).append(us)
            if clustered and kept is None:
                kept = path
            else:
                _unlink(path)
    assert kept is not None
    return without_us, with_us, kept


def _recluster(args: argparse.Namespace, size: int, path: Path) -> list[str]:
    """recluster_all runs (and the peer's, and the baseline's) on ``path``, in turn; a line each."""
    size_mb = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
    kinds = [("recluster", None), ("read", None)]
    if args.baseline:
        kinds.insert(0, ("baseline", args.baseline))
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind, _code in kinds}
    _spawn("read", path)  # warms the page cache for every run alike: not counted
    for n in range(args.runs):
        for kind, code in kinds if n % 2 == 0 else kinds[::-1]:
            print(f"{size:,} records, {kind}, load {_load()}", file=sys.stderr)
            results[kind].append(_spawn("read" if kind == "read" else "recluster", path, code))
            print(f"  {results[kind][-1]}", file=sys.stderr)
    lines = []
    for kind, _code in kinds:
        got = results[kind]
        walls = " ".join(f"{r['wall']:.1f}" for r in got)
        lines.append(
            f"{size:>10,} {kind:<10} {statistics.median(r['wall'] for r in got):>8.1f} "
            f"{statistics.median(r['cpu'] for r in got):>7.1f} "
            f"{statistics.median(r['peak_mb'] for r in got):>8.0f} "
            f"{statistics.median(r['before_mb'] for r in got):>9.0f} {size_mb / 2**20:>8.0f}   "
            f"{walls}   {_load()}"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="lienhop-works-", dir=args.tmp))
    commit_lines, recluster_lines = [], []
    try:
        for size in args.sizes:
            store = Path(args.store) if args.store else None
            if args.pairs:
                without_us, with_us, kept = _pairs(tmp, size, args.pairs, 0, store)
                commit_lines.append(_commit_line(f"{size:,}", without_us, with_us))
            else:
                assert store is not None, "--pairs 0 needs --store"
                kept = store
            if args.extend:
                without_us, with_us, _path = _pairs(tmp, size, args.pairs or 1, args.extend, kept)
                commit_lines.append(_commit_line(f"+{args.extend:,} on {size:,}", without_us, with_us))
            if args.runs:
                recluster_lines += _recluster(args, size, kept)
            if not args.keep and kept != store:
                _unlink(kept)
        print("\ncommit_rows CPU per record (µs), median; per run: store only / with works")
        print(f"{'records':>16} {'store only':>11} {'with works':>11} {'ratio':>8} {'works cost':>11}   load")
        print("\n".join(commit_lines))
        print("\nrecluster_all in a child process per run (read: the peer); medians")
        print(
            f"{'records':>10} {'run':<10} {'wall s':>8} {'CPU s':>7} {'peak MB':>8} {'before MB':>9}"
            f" {'file MB':>8}   walls   load"
        )
        print("\n".join(recluster_lines))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"stores kept in {tmp}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--pairs", type=int, default=2, help="commit runs with and without works, per size")
    parser.add_argument("--runs", type=int, default=3, help="recluster_all runs (and peer runs) per size")
    parser.add_argument("--baseline", metavar="DIR", help="also run recluster_all with DIR's store package")
    parser.add_argument(
        "--extend", type=int, default=0, help="also commit this many more records onto copies"
    )
    parser.add_argument("--store", help="a clustered store of the (one) size to use instead of building one")
    parser.add_argument("--tmp", help="Folder for the stores (default: the system's)")
    parser.add_argument("--keep", action="store_true", help="Keep the stores")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "DB"), help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], args.code)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())

"""Paired runs of ``bench/search.py`` and ``bench/harvest.py`` across checkouts of two or more commits.

On a shared machine a figure measured on one commit now and on another an hour later mostly measures
the machine. Here each checkout (a git worktree with its own ``.venv``) runs in turn, round after
round (A B C, then C B A, ...), so the other load hits every arm alike; the table gives each arm's
median, the ratio of each arm's median to the first arm's, and the range of the per-round ratios
(the noise: a ratio inside it is "unchanged within noise").

* ``search``: the whole ``bench/search.py`` of each checkout with the options after ``--``; its
  table is parsed (indexing rate, size, layer and raw latencies at concurrency 1 and 16).
* ``harvest``: one OAI-PMH provider (the first arm's ``bench/harvest.py --serve``) for all arms, and
  each arm's own harvesting child (``bench/harvest.py --harvest-child``) into a fresh SQLite store:
  wall time and CPU per record, with the parse workers fixed by ``--workers`` (the automatic mode
  starts them only when a core looks idle, a coin toss on a shared machine).

    .venv/bin/python bench/paired.py search before=../before after=../after --rounds 3 \\
        -- --records 100000 --no-es
    .venv/bin/python bench/paired.py harvest before=../before after=../after --records 30000 --workers 0
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


def _arms(specs: Sequence[str]) -> dict[str, Path]:
    arms = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        arms[name] = Path(path).resolve()
    return arms


def _python(checkout: Path) -> str:
    return str(checkout / ".venv" / "bin" / "python")


def _order(arms: dict[str, Path], n: int) -> list[str]:
    """Forward in even rounds, backward in odd ones: no arm is always first after the other's load."""
    names = list(arms)
    return names if n % 2 == 0 else names[::-1]


def _load() -> float:
    return os.getloadavg()[0]


# ------------------------------------------------------------------------------------------- search

_NUMBER = r"[\d,.]+"


def parse_search(out: str) -> dict[str, float]:
    """Figures of ``bench/search.py``'s table for its embedded backend (older and newer layouts)."""
    figures: dict[str, float] = {}
    lines = out.splitlines()
    for n, line in enumerate(lines):
        cells = line.split()
        if not cells or cells[0] not in ("tantivy", "sqlite", "opensearch", "elasticsearch"):
            continue
        header = next(h for h in reversed(lines[:n]) if h.startswith("backend")).split()
        values = [float(c.replace(",", "")) if re.fullmatch(_NUMBER, c) else None for c in cells[1:]]
        if header[1] == "conc":  # backend conc layer p50 p99 qps raw p50 p99 qps ratio ratio
            conc = int(values[0] or 0)
            names = ["layer_p50", "layer_p99", "layer_qps", "raw_p50", "raw_p99", "raw_qps"]
            for name, value in zip(names, values[1:7], strict=True):
                figures[f"{cells[0]}_c{conc}_{name}"] = value or 0.0
        elif header[1] == "docs":  # backend docs index-docs/s peer ours/peer size
            figures[f"{cells[0]}_records_per_s"] = values[1] or 0.0
            figures[f"{cells[0]}_size_mb"] = values[-1] or 0.0
        else:  # backend works records works/s records/s peer ours/peer size
            figures[f"{cells[0]}_records_per_s"] = values[3] or 0.0
            figures[f"{cells[0]}_size_mb"] = values[-1] or 0.0
    return with_overheads(figures)


def with_overheads(figures: dict[str, float]) -> dict[str, float]:
    """The layer/raw latency ratios too: our overhead, timed in the same run as the raw query, so the
    machine's load weighs on both sides of it alike."""
    for key in [k for k in figures if "_layer_p" in k]:
        raw = figures[key.replace("_layer_", "_raw_")]
        figures[key.replace("_layer_", "_layer/raw_")] = figures[key] / raw if raw else 0.0
    return figures


def run_search(checkout: Path, options: Sequence[str], cpu: bool = False) -> dict[str, float]:
    script = [str(Path(__file__).with_name("search_cpu.py"))] if cpu else ["bench/search.py"]
    out = subprocess.run(
        [_python(checkout), *script, *options],
        cwd=checkout,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1]) if cpu else parse_search(out.stdout)


# ------------------------------------------------------------------------------------------ harvest


def _serve(checkout: Path, records: int) -> tuple[subprocess.Popen[str], str]:
    with socket.socket() as sock:  # a free port on loopback
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [_python(checkout), "bench/harvest.py", "--serve", str(port), "--records", str(records)],
        cwd=checkout,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    server.stdout.readline()  # "ready" once the pages are rendered
    url = f"http://127.0.0.1:{port}/oai"
    for _ in range(200):  # then uvicorn starts listening
        try:
            urllib.request.urlopen(f"{url}?verb=Identify", timeout=1).close()
            return server, url
        except OSError:
            time.sleep(0.05)
    server.terminate()
    raise RuntimeError("the bench provider did not start")


def run_harvest(checkout: Path, url: str, fmt: str, records: int, workers: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENHOP_")}
    if workers != "auto":
        env["LIENHOP_HARVEST_PARSE_WORKERS"] = workers
    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run(
            [_python(checkout), "bench/harvest.py", "--harvest-child", url, fmt, home, ""],
            cwd=checkout,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["records"] == records, result
    return {
        f"{fmt}_records_per_s": records / result["elapsed"],
        f"{fmt}_cpu_us_per_record": 1e6 * (result["cpu_self"] + result["cpu_workers"]) / records,
        f"{fmt}_workers_cpu_us_per_record": 1e6 * result["cpu_workers"] / records,
        f"{fmt}_peak_rss_mb": result["maxrss_mb"],
    }


# ------------------------------------------------------------------------------------------- output


def summarise(rows: list[dict[str, Any]], arms: Sequence[str]) -> Iterator[str]:
    """Per figure: each arm's median; for the other arms the ratio of medians to the first arm's and
    the range of the per-round ratios."""
    first = arms[0]
    figures = [
        k
        for k in rows[0]["figures"]
        if all(k in r["figures"] for r in rows) and any(r["figures"][k] for r in rows)
    ]
    by = {a: [r for r in rows if r["arm"] == a] for a in arms}
    head = f"{'figure':<32}" + "".join(f"{a + ' median':>16}" for a in arms)
    head += "".join(f"{a + '/' + first:>14} {'round range':>13}" for a in arms[1:])
    yield head
    for figure in figures:
        values = {a: [r["figures"][figure] for r in by[a]] for a in arms}
        line = f"{figure:<32}" + "".join(f"{statistics.median(values[a]):>16,.2f}" for a in arms)
        for a in arms[1:]:
            base = statistics.median(values[first])
            ratio = statistics.median(values[a]) / base if base else float("nan")
            pairs = [x / y for x, y in zip(values[a], values[first], strict=False) if y]
            spread = f"{min(pairs):.2f}-{max(pairs):.2f}" if pairs else "-"
            line += f"{ratio:>14.3f} {spread:>13}"
        yield line
    loads = [r["load"] for r in rows]
    median = statistics.median(loads)
    yield f"load average (1 min) before each run: {min(loads):.2f}-{max(loads):.2f}, median {median:.2f}"
    yield f"runs per arm: {', '.join(f'{a} {len(by[a])}' for a in arms)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bench", choices=("search", "search-cpu", "harvest"))
    parser.add_argument("arms", nargs="+", help="NAME=CHECKOUT, the first is the baseline")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=30_000, help="harvest: records per format")
    parser.add_argument("--formats", default="oai_dc,marcxml", help="harvest: formats")
    parser.add_argument("--workers", default="0", help="harvest: parse workers (a number, or auto)")
    parser.add_argument("--out", type=Path, help="append every run as a JSON line to this file")
    parser.add_argument("--summarise", type=Path, help="only print the table of the runs in this file")
    args, rest = parser.parse_known_args(argv)
    if args.summarise:
        saved = [json.loads(line) for line in args.summarise.read_text().splitlines() if line.strip()]
        for row in saved:
            row["figures"] = with_overheads(row["figures"]) if args.bench == "search" else row["figures"]
        names = [a.partition("=")[0] for a in args.arms]
        for fmt in sorted({row.get("fmt", "") for row in saved}):
            print(f"\n{fmt}" if fmt else "")
            print("\n".join(summarise([r for r in saved if r.get("fmt", "") == fmt], names)))
        return 0
    options = [o for o in rest if o != "--"]
    arms = _arms(args.arms)
    rows: list[dict[str, Any]] = []

    def record(arm: str, n: int, figures: dict[str, float], load: float, **extra: Any) -> None:
        row = {"arm": arm, "round": n, "load": load, "figures": figures, "at": time.time(), **extra}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")

    if args.bench in ("search", "search-cpu"):
        for n in range(args.rounds):
            for arm in _order(arms, n):
                load = _load()
                figures = run_search(arms[arm], options, cpu=args.bench == "search-cpu")
                record(arm, n, figures, load, options=options)
        print("\n".join(summarise(rows, list(arms))))
        return 0

    server, url = _serve(next(iter(arms.values())), args.records)
    try:
        for fmt in args.formats.split(","):
            fmt_rows: list[dict[str, Any]] = []
            for n in range(args.rounds):
                for arm in _order(arms, n):
                    load = _load()
                    record(
                        arm, n, run_harvest(arms[arm], url, fmt, args.records, args.workers), load, fmt=fmt
                    )
                    fmt_rows.append(rows[-1])
            print(f"\n{fmt}, {args.records} records, parse workers {args.workers}")
            print("\n".join(summarise(fmt_rows, list(arms))))
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

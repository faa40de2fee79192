"""Harvested to searchable when the index follower has a core of its own (Linux, 2 cores or more).

``bench/harvest.py --e2e`` compares the end-to-end rate with the store-only rate on the machine's
cores, which the harvest, its parse workers and the index follower then share. This bench asks what
the overlap of indexing with harvesting gives when indexing does not take CPU from the harvest: every
run is pinned to CPU 0 (``taskset``: the harvesting process and its parse workers, as in the
store-only run), and in one end-to-end run the index follower's process is moved to CPU 1 as soon as
it has opened the index (found as the spawned child that maps the index's segment files). The third
run, everything on CPU 0, is the same path with no core to spare.

    .venv/bin/python bench/spare_core.py --records 50000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
HARVEST = ROOT / "bench" / "harvest.py"
#: Files of a tantivy segment: only the index follower maps them (a parse worker never opens the index).
_SEGMENT_SUFFIXES = (".term", ".idx", ".store")


def _spawned_children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` and that multiprocessing spawned (not its resource tracker)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rfind(")") + 2 :].split()[1])
        if parent == pid and "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            found.append(int(entry))
    return found


def _maps_the_index(pid: int) -> bool:
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
    return any(suffix in maps for suffix in _SEGMENT_SUFFIXES)


def run(mode: str, url: str, follower_cpu: int | None) -> dict[str, Any]:
    """One child of ``bench/harvest.py`` (``--harvest-child`` or ``--e2e-child``) pinned to CPU 0;
    with ``follower_cpu``, the index follower's process is moved there once found."""
    with tempfile.TemporaryDirectory() as home:
        command = ["taskset", "-c", "0", sys.executable, str(HARVEST), mode, url, "oai_dc", home, ""]
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        moved: list[int] = []

        def watch() -> None:
            while child.poll() is None and not moved:
                for pid in _spawned_children(child.pid):
                    if _maps_the_index(pid):
                        cpu = str(follower_cpu)
                        subprocess.run(["taskset", "-a", "-p", "-c", cpu, str(pid)], capture_output=True)
                        moved.append(pid)
                        break
                time.sleep(0.05)

        if follower_cpu is not None:
            threading.Thread(target=watch, daemon=True).start()
        out, _ = child.communicate(timeout=3600)
        if child.returncode:
            raise SystemExit(f"{mode} failed with exit code {child.returncode}")
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        result["moved"] = len(moved)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if (os.cpu_count() or 1) < 2:
        raise SystemExit("needs 2 cores: one for the harvest, one for the index follower")
    from bench.harvest import provider

    store, spare, shared = [], [], []
    with provider(args.records, "oai_dc") as url:
        for _ in range(args.runs):  # in turn, so that each sees the same load
            stored = run("--harvest-child", url, None)
            pinned = run("--e2e-child", url, 1)
            alone = run("--e2e-child", url, None)
            assert stored["ok"] and pinned["ok"] and alone["ok"], (stored, pinned, alone)
            assert pinned["moved"] == 1, "the index follower's process was not found"
            assert pinned["documents"] == alone["documents"] == args.records
            store.append(stored["elapsed"])
            spare.append(pinned["elapsed"])
            shared.append(alone["elapsed"])

    rate = {name: args.records / statistics.median(times) for name, times in
            (("store", store), ("spare", spare), ("shared", shared))}  # fmt: skip
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{args.records} oai_dc records, median of {args.runs} run(s); load average at the end {load}\n")
    print(f"{'run (harvest and parse workers on CPU 0)':<48} {'rec/s':>7} {'of store-only':>14}")
    print(f"{'store only':<48} {rate['store']:>7,.0f} {'1.00x':>14}")
    for name, label in (
        ("spare", "end to end, the follower on CPU 1"),
        ("shared", "end to end, all on CPU 0"),
    ):
        ratio = statistics.median(
            s / e for s, e in zip(store, spare if name == "spare" else shared, strict=True)
        )
        print(f"{label:<48} {rate[name]:>7,.0f} {ratio:>13.2f}x")


if __name__ == "__main__":
    main()

"""Concurrent searching clients against ``lienhop serve`` with 1 and 2 server workers, during a reindex
and during a 50,000-record harvest.

    .venv/bin/python bench/load.py [--records 20000] [--seconds 20] [--clients 16,64] [--workers 1,2]
                                   [--harvest 50000]

A data folder is filled with synthetic records (titles drawn from a Vietnamese word list, so every
one-word query finds something) and indexed; then, for each worker count, ``lienhop serve --workers W``
runs on a free loopback port and each client count searches for ``--seconds`` seconds (one HTTP
connection per client, a random word per request). Last, with 2 workers and 16 clients, ``lienhop
reindex`` runs in another process while the clients search, then the leader is killed (SIGKILL) and
the time until a record committed at that moment is searchable is the handover delay. Every answer
is checked: a non-200 is a failure, and a total of 0 is an empty answer (neither may happen).

Then the harvest phases: for each worker count a fresh server, and for each client count a new member
whose repository is ``bench/harvest.py``'s loopback OAI-PMH provider serving ``--harvest`` oai_dc
records (other records each time: the provider's ``--offset``). The member is registered and harvested
through the server's admin API (``POST /admin/members``, ``POST /admin/harvest``: a job of the worker
that took the request, while the leader feeds the index), and the clients search from the moment the
job is asked until the index has caught up with it (``lienhop_index_lag`` 0 at ``/metrics``). Prints
one table: p50/p99 in ms and requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.context import open_context  # noqa: E402
from bench.harvest import provider  # noqa: E402
from schemas.member import MemberCreate  # noqa: E402
from schemas.record import Record  # noqa: E402
from schemas.settings import Settings  # noqa: E402
from tests.servers import free_port  # noqa: E402

_TEXT = (
    "thư viện khoa học công nghệ nông nghiệp kinh tế giáo dục y học môi trường vật liệu năng lượng "
    "thông tin dữ liệu phát triển nghiên cứu quản lý hệ thống mạng máy tính toán học vật lý hóa sinh "
    "lịch sử văn hóa xã hội pháp luật kỹ thuật điện tử cơ khí xây dựng giao thông thủy sản lâm nghiệp "
    "địa chất khí hậu biển đảo đô thị nông thôn doanh nghiệp tài chính ngân hàng du lịch y tế dược"
)
WORDS = tuple(_TEXT.split())
MEMBERS = ("NASATI", "HUE", "VNUA", "TVU")  # HUE also gets the record of the handover phase


@dataclass
class Result:
    label: str
    workers: int
    clients: int
    latencies: list[float]
    seconds: float
    failed: int
    empty: int
    load: float = 0.0  # the 1-minute load average when the phase ended

    def row(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000 if ordered else float("nan")
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else float("nan")
        rps = len(ordered) / self.seconds if self.seconds else 0.0
        return (
            f"{self.label:<10} {self.workers:>7} {self.clients:>7} {len(ordered):>8} {p50:>8.1f} "
            f"{p99:>8.1f} {rps:>7.0f} {self.failed:>6} {self.empty:>6} {self.load:>6.1f}"
        )


HEADER = (
    f"{'phase':<10} {'workers':>7} {'clients':>7} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'req/s':>7} {'failed':>6} {'empty':>6} {'load':>6}"
)


def _records(count: int, seed: int = 14) -> Iterator[tuple[str, list[Record]]]:
    rng = random.Random(seed)
    for code in MEMBERS:
        page: list[Record] = []
        for n in range(count // len(MEMBERS)):
            title = " ".join(rng.sample(WORDS, 5))
            page.append(Record(member=code, oai_identifier=f"oai:{code.lower()}:{n}", title=title))
            if len(page) == 1000:
                yield code, page
                page = []
        if page:
            yield code, page


async def fill(settings: Settings, count: int) -> None:
    ctx = await open_context(settings)
    try:
        for code in MEMBERS:
            await ctx.store.add_member(MemberCreate(code=code, name_vi=f"Thư viện {code}"))
        for code, page in _records(count):
            await ctx.store.commit_page(code, None, page)
        await ctx.sync_index()
    finally:
        await ctx.close()


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIENHOP_", "PROMETHEUS_"))}
    # The harvest phases' provider is on loopback, which the harvester refuses unless allowed.
    env.update(
        LIENHOP_HOME=str(home), LIENHOP_SCHEDULER_SECONDS="0", LIENHOP_HARVEST_ALLOW_NETWORKS="127.0.0.1/32"
    )
    return env


@contextlib.contextmanager
def server(home: Path, workers: int) -> Iterator[str]:
    port = free_port()
    lienhop = Path(sys.executable).with_name("lienhop")
    log = open(home / f"serve-{workers}.log", "wb")  # noqa: SIM115  # closed below
    proc = subprocess.Popen(
        [str(lienhop), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=_env(home),
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        pids: set[int] = set()
        while len(pids) < workers:
            assert time.monotonic() < deadline, "server did not start"
            with contextlib.suppress(httpx.TransportError):
                answer = httpx.get(url + "/health", timeout=10)
                if answer.status_code == 200:
                    pids.add(answer.json()["worker"]["pid"])
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()


async def clients(url: str, count: int, seconds: float, until: asyncio.Event | None = None) -> tuple:
    latencies: list[float] = []
    failed = empty = 0
    stop_at = time.monotonic() + seconds

    async def one(seed: int) -> None:
        nonlocal failed, empty
        rng = random.Random(seed)
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            while time.monotonic() < stop_at and not (until is not None and until.is_set()):
                started = time.perf_counter()
                try:
                    answer = await http.get("/search", params={"q": rng.choice(WORDS), "size": 10})
                except httpx.HTTPError:
                    failed += 1
                    continue
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    failed += 1
                elif not answer.json()["total"]:
                    empty += 1

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(count)))
    return latencies, time.monotonic() - started, failed, empty


async def during_reindex(url: str, home: Path, count: int, cap: float) -> tuple:
    done = asyncio.Event()
    lienhop = Path(sys.executable).with_name("lienhop")
    proc = await asyncio.create_subprocess_exec(
        str(lienhop), "reindex", env=_env(home), cwd=home,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip

    async def wait() -> None:
        code = await proc.wait()
        assert code == 0, f"lienhop reindex exited {code}"
        done.set()

    waiter = asyncio.create_task(wait())
    result = await clients(url, count, cap, done)
    await waiter
    return result


async def handover(settings: Settings, url: str) -> float:
    """Seconds from SIGKILL of the leader until a record committed just after it is searchable."""
    import signal

    leader = None
    while leader is None:  # ask until the leader answers
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            worker = (await http.get("/health")).json()["worker"]
        leader = worker["pid"] if worker["leader"] else None
    ctx = await open_context(settings, with_search=False)
    try:
        os.kill(leader, signal.SIGKILL)
        killed = time.monotonic()
        record = Record(member="HUE", oai_identifier="oai:hue:handover", title="xyzzy chuyển giao")
        await ctx.store.commit_page("HUE", None, [record])
    finally:
        await ctx.close()
    while True:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/search", params={"q": "xyzzy"})).json().get("total"):
                    return time.monotonic() - killed
        assert time.monotonic() - killed < 120, "no other worker took over within 120 s"
        await asyncio.sleep(0.05)


@dataclass
class Harvested:
    records: int
    harvest_seconds: float  # from asking for the job to its end
    indexed_seconds: float  # from asking for the job until the index has caught up


async def _index_lag(http: httpx.AsyncClient) -> int | None:
    found = re.search(r"^lienhop_index_lag (\S+)$", (await http.get("/metrics")).text, re.M)
    return int(float(found.group(1))) if found else None


async def during_harvest(url: str, code: str, oai_url: str, count: int, cap: float) -> tuple:
    """``count`` clients search while the server harvests ``code`` (registered here) and indexes it."""
    done = asyncio.Event()
    outcome: list[Harvested] = []

    async def harvest() -> None:
        try:
            async with httpx.AsyncClient(base_url=url, timeout=120) as http:
                member = {
                    "code": code,
                    "name_vi": f"Thư viện {code}",
                    "oai_url": oai_url,
                    "metadata_prefix": "oai_dc",
                }
                made = await http.post("/admin/members", json=member)
                assert made.status_code == 201, made.text
                started = time.monotonic()
                # no reconciliation: the bench provider answers ListRecords only
                job = await http.post("/admin/harvest", json={"codes": [code], "reconcile": False})
                assert job.status_code == 202, job.text
                while (view := (await http.get(f"/admin/jobs/{job.json()['id']}")).json())["state"] in {
                    "queued",
                    "running",
                }:
                    await asyncio.sleep(0.5)
                harvested = time.monotonic() - started
                assert view["state"] == "done", view
                records = sum(int(report["added"]) for report in view["result"])
                while await _index_lag(http) != 0:
                    assert time.monotonic() - started < cap, "the index did not catch up"
                    await asyncio.sleep(0.25)
                outcome.append(Harvested(records, harvested, time.monotonic() - started))
        finally:
            done.set()

    task = asyncio.create_task(harvest())
    result = await clients(url, count, cap, done)
    await task
    return result, outcome[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--harvest", type=int, default=50_000, help="records per harvest phase (0: none)")
    parser.add_argument("--cap", type=float, default=900.0, help="longest reindex or harvest phase, s")
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    client_counts = [int(c) for c in args.clients.split(",")]
    home = Path(tempfile.mkdtemp(prefix="lienhop-load-")) / "var"
    home.mkdir(parents=True)
    settings = Settings(home=home)
    started = time.monotonic()
    asyncio.run(fill(settings, args.records))
    print(
        f"{args.records} records stored and indexed in {time.monotonic() - started:.0f} s; "
        f"load {os.getloadavg()}"
    )
    results: list[Result] = []
    notes: list[str] = []

    def report(result: Result, note: str = "") -> None:
        result.load = os.getloadavg()[0]
        results.append(result)
        print(result.row(), flush=True)
        if note:
            notes.append(note)
            print(note, flush=True)

    for workers in worker_counts:
        with server(home, workers) as url:
            for count in client_counts:
                lat, secs, failed, empty = asyncio.run(clients(url, count, args.seconds))
                report(Result("search", workers, count, lat, secs, failed, empty))
            if workers == 2:
                lat, secs, failed, empty = asyncio.run(during_reindex(url, home, 16, args.cap))
                report(Result("reindex", workers, 16, lat, secs, failed, empty))
                took = asyncio.run(handover(settings, url))
                notes.append(f"leader killed (SIGKILL): a new record searchable after {took:.2f} s")
                print(notes[-1], flush=True)
    offset = 0
    for workers in worker_counts if args.harvest else []:
        with server(home, workers) as url:
            for count in client_counts:
                offset += 1_000_000  # other records each time (identifiers, ISBNs, titles)
                code = f"HARVEST{workers}C{count}"
                with provider(args.harvest, "oai_dc", offset) as oai_url:
                    (lat, secs, failed, empty), done = asyncio.run(
                        during_harvest(url, code, oai_url, count, args.cap)
                    )
                report(
                    Result("harvest", workers, count, lat, secs, failed, empty),
                    f"harvest, {workers} worker(s), {count} clients: {done.records:,} records harvested in "
                    f"{done.harvest_seconds:.1f} s ({done.records / done.harvest_seconds:,.0f}/s), all "
                    f"searchable {done.indexed_seconds:.1f} s after the job was asked",
                )
    print()
    print(HEADER)
    for result in results:
        print(result.row())
    for note in notes:
        print(note)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

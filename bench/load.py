"""Concurrent searching clients against ``lienhop serve`` with 1 and 2 server workers, and during a reindex.

    .venv/bin/python bench/load.py [--records 20000] [--seconds 20] [--clients 16,64] [--workers 1,2]

A data folder is filled with synthetic records (titles drawn from a Vietnamese word list, so every
one-word query finds something) and indexed; then, for each worker count, ``lienhop serve --workers W``
runs on a free loopback port and each client count searches for ``--seconds`` seconds (one HTTP
connection per client, a random word per request). Last, with 2 workers and 16 clients, ``lienhop
reindex`` runs in another process while the clients search, then the leader is killed (SIGKILL) and
the time until a record committed at that moment is searchable is the handover delay. Every answer
is checked: a non-200 is a failure, and a total of 0 is an empty answer (neither may happen). Prints
one table: p50/p99 in ms and requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
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
from schemas.member import MemberCreate  # noqa: E402
from schemas.record import Record  # noqa: E402
from schemas.settings import Settings  # noqa: E402

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

    def row(self) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000 if ordered else float("nan")
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else float("nan")
        rps = len(ordered) / self.seconds if self.seconds else 0.0
        return (
            f"{self.label:<10} {self.workers:>7} {self.clients:>7} {len(ordered):>8} {p50:>8.1f} "
            f"{p99:>8.1f} {rps:>7.0f} {self.failed:>6} {self.empty:>6}"
        )


HEADER = (
    f"{'phase':<10} {'workers':>7} {'clients':>7} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'req/s':>7} {'failed':>6} {'empty':>6}"
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
    env.update(LIENHOP_HOME=str(home), LIENHOP_SCHEDULER_SECONDS="0")
    return env


@contextlib.contextmanager
def server(home: Path, workers: int) -> Iterator[str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
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
    for workers in [int(w) for w in args.workers.split(",")]:
        with server(home, workers) as url:
            for count in [int(c) for c in args.clients.split(",")]:
                lat, secs, failed, empty = asyncio.run(clients(url, count, args.seconds))
                results.append(Result("search", workers, count, lat, secs, failed, empty))
                print(results[-1].row(), flush=True)
            if workers == 2:
                lat, secs, failed, empty = asyncio.run(during_reindex(url, home, 16, 300.0))
                results.append(Result("reindex", workers, 16, lat, secs, failed, empty))
                print(results[-1].row(), flush=True)
                took = asyncio.run(handover(settings, url))
                print(f"leader killed (SIGKILL): a new record searchable after {took:.2f} s", flush=True)
    print()
    print(HEADER)
    for result in results:
        print(result.row())
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

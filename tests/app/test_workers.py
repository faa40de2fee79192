"""``lienhop serve --workers 2``: both workers answer, exactly one leads, a killed leader is replaced,
and ``/metrics`` adds up every worker's counts.

The server runs as its own OS processes on a free loopback port, on the test's SQLite data folder;
this test process commits records through the record store, as a CLI harvest would. Waits are capped
generously: how long the handover takes is a bench figure, not something a test should time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from schemas.member import MemberCreate
from schemas.record import Record
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import free_port

pytestmark = pytest.mark.asyncio

STARTUP_CAP = 120.0  # two cold workers on a loaded machine import a lot and open the index
HANDOVER_CAP = 60.0


@dataclass
class Server:
    url: str
    log: Path
    proc: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """``lienhop serve --workers 2`` on 127.0.0.1 and a free port; stopped after."""
    port = free_port()
    lienhop = Path(sys.executable).with_name("lienhop")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIENHOP_", "PROMETHEUS_"))}
    env.update(
        LIENHOP_HOME=str(settings.home),
        LIENHOP_LEADER_RETRY_SECONDS="0.5",
        LIENHOP_SCHEDULER_SECONDS="0",  # nothing to schedule; the leader's duty here is the index
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(lienhop), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,  # no .env of the developer's checkout is read
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", log, proc)
    finally:
        proc.terminate()  # uvicorn's supervisor stops its workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


async def _health(base: str) -> dict[str, object] | None:
    """One /health answer on a new connection (so the kernel may hand it to either worker)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        with contextlib.suppress(httpx.TransportError):
            answer = await http.get("/health")
            if answer.status_code == 200:
                body: dict[str, object] = answer.json()
                return body
    return None


async def _workers(server: Server, cap: float = STARTUP_CAP) -> tuple[dict[int, bool], int]:
    """Poll /health until two workers have answered and one of them leads: {pid: leader}, answers."""
    seen: dict[int, bool] = {}
    answered = 0
    deadline = time.monotonic() + cap
    while True:
        body = await _health(server.url)
        if body is not None:
            answered += 1
            worker = body["worker"]
            assert isinstance(worker, dict)
            seen[int(worker["pid"])] = bool(worker["leader"])
            if len(seen) >= 2 and sum(seen.values()) == 1:
                return seen, answered
        assert time.monotonic() < deadline, f"workers seen: {seen}\n{server.output()}"
        await asyncio.sleep(0.05)


async def _commit(settings: Settings, code: str, title: str) -> None:
    """Commit one record in a run of its own, as another process (a CLI harvest) would."""
    store = await RecordStore.open(settings.db_url)
    try:
        if code not in {m.code for m in await store.list_members()}:
            await store.add_member(MemberCreate(code=code, name_vi=f"Thư viện {code}"))
        run = await store.start_run(code, "harvest")
        assert run.id is not None
        record = Record(member=code, oai_identifier=f"oai:{code.lower()}:{title}", title=title)
        await store.commit_page(code, run.id, [record])
        await store.finish_run(run.id, ok=True)
    finally:
        await store.close()


async def _searchable(server: Server, query: str, cap: float) -> float:
    """Seconds until ``query`` finds a hit (asked on new connections, so either worker answers)."""
    started = time.monotonic()
    while True:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            with contextlib.suppress(httpx.TransportError):
                answer = await http.get("/search", params={"q": query})
                if answer.status_code == 200 and answer.json()["total"]:
                    return time.monotonic() - started
        waited = time.monotonic() - started
        assert waited < cap, f"{query!r} not searchable after {cap:.0f} s\n{server.output()}"
        await asyncio.sleep(0.2)


async def test_killing_the_leader_hands_indexing_to_another_worker(
    server: Server, settings: Settings
) -> None:
    workers, _ = await _workers(server)
    (leader,) = [pid for pid, leads in workers.items() if leads]
    # The lock file beside the database names the leader too (for operators).
    lock_file = Path(settings.db_url.split("///", 1)[1] + ".leader")
    assert lock_file.read_text().strip() == str(leader)

    await _commit(settings, "HUE", "Khoa học máy tính lượng tử")
    await _searchable(server, "may tinh luong tu", HANDOVER_CAP)

    os.kill(leader, signal.SIGKILL)
    await _commit(settings, "HUE", "Nông nghiệp công nghệ cao")
    await _searchable(server, "nong nghiep cong nghe cao", HANDOVER_CAP)

    # Someone else leads now, and says so.
    deadline = time.monotonic() + HANDOVER_CAP
    while True:
        body = await _health(server.url)
        worker = body["worker"] if body else None
        if isinstance(worker, dict) and worker["leader"]:
            assert worker["pid"] != leader
            break
        assert time.monotonic() < deadline, server.output()
        await asyncio.sleep(0.05)
    assert lock_file.read_text().strip() != str(leader)


_SAMPLE = re.compile(r"^lienhop_http_requests_total\{(?P<labels>.*)\} (?P<value>\S+)$", re.M)


async def test_metrics_add_up_the_requests_of_every_worker(server: Server, settings: Settings) -> None:
    workers, answered = await _workers(server)
    assert len(workers) == 2  # both workers answered some of the /health requests counted below
    await _commit(settings, "HUE", "Thư viện số")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for _ in range(5):
            assert (await http.get("/search", params={"q": "thu vien", "size": 1})).status_code == 200
        assert (await http.get("/records/NOPE-0000000000000000")).status_code == 404
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    counts: dict[str, float] = {}
    for match in _SAMPLE.finditer(answer.text):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        key = f"{labels['method']} {labels['route']} {labels['status']}"
        counts[key] = counts.get(key, 0) + float(match["value"])
    # Every /health answer counted, whichever of the two workers gave it.
    assert counts["GET /health 200"] == answered
    assert counts["GET /search 200"] == 5
    assert counts["GET /records/{record_id} 404"] == 1
    assert "lienhop_http_request_duration_seconds_bucket" in answer.text
    assert re.search(r"^lienhop_index_lag \d", answer.text, re.M)
    assert re.search(r"^lienhop_store_max_seq [1-9]", answer.text, re.M)
    assert re.search(
        r'^lienhop_harvest_records_total\{kind="harvest",member="HUE",outcome="added"\} 1\.0$',
        answer.text,
        re.M,
    )

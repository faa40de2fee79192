"""``LIENHOP_RATE_LIMIT`` holds across the workers of ``lienhop serve --workers 2``: a client whose
searches land on both workers still gets its limit once, then 429 with ``Retry-After``.

Each search goes on a new connection, so the kernel hands it to either worker; which one answered is
read from the per-process counter files of the metrics folder (one file per worker pid), and the
client keeps asking until each worker has answered it more often than the limit: with a limit kept
per worker it would then have been let through twice over.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from schemas.settings import Settings
from tests.app.test_workers import Server, _workers
from tests.servers import free_port

pytestmark = pytest.mark.asyncio

LIMIT = 5
CLIENT = "198.51.100.7"  # the address the trusted proxy (loopback) forwards for


@pytest.fixture
def limited_server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """``lienhop serve --workers 2`` limiting searches to 5 an hour, behind a proxy on loopback."""
    port = free_port()
    lienhop = Path(sys.executable).with_name("lienhop")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIENHOP_", "PROMETHEUS_"))}
    env.update(
        LIENHOP_HOME=str(settings.home),
        LIENHOP_SCHEDULER_SECONDS="0",
        LIENHOP_RATE_LIMIT=f"{LIMIT}/hour",  # no token comes back during the test
        LIENHOP_TRUSTED_PROXIES="127.0.0.1",
    )
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(lienhop), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", log, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _searches_by_worker(metrics: Path) -> dict[int, int]:
    """Searches answered by each worker so far, from its own counter file (a refusal comes from the
    middleware before any route is matched: it is counted as ``unmatched``, and only searches are
    asked while this counts)."""
    counts: dict[int, int] = {}
    for file in metrics.glob("counter_*.db"):
        pid = int(file.stem.split("_")[1])
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(file)):
            _, name, labels, _ = json.loads(key)
            if name == "lienhop_http_requests_total" and labels.get("route") in {"/search", "unmatched"}:
                counts[pid] = counts.get(pid, 0) + int(value)
    return counts


async def _search(server: Server, forwarded_for: str | None) -> httpx.Response:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    # a new connection each time: the kernel hands it to either worker
    async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=headers) as http:
        return await http.get("/search", params={"q": "thu vien"})


async def test_the_limit_holds_across_both_workers(limited_server: Server, settings: Settings) -> None:
    workers, _ = await _workers(limited_server)
    metrics = settings.home / "metrics"
    answers: list[httpx.Response] = []
    while min((_searches_by_worker(metrics).get(pid, 0) for pid in workers), default=0) <= LIMIT:
        answers.append(await _search(limited_server, CLIENT))
        assert len(answers) < 200, f"searches by worker: {_searches_by_worker(metrics)}"
    codes = [answer.status_code for answer in answers]
    # Both workers answered this client more than LIMIT times, yet it got LIMIT searches in all.
    assert codes == [200] * LIMIT + [429] * (len(codes) - LIMIT)
    refused = answers[-1]
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert refused.headers["content-type"].startswith("application/problem+json")
    # Another forwarded client has its own budget; the proxy's own (loopback) requests are exempt.
    assert (await _search(limited_server, "198.51.100.8")).status_code == 200
    assert all([(await _search(limited_server, None)).status_code == 200 for _ in range(2 * LIMIT)])

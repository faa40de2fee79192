"""A change committed by another process becomes searchable through a running ``lienhop serve``.

The server runs as its own OS process on a free loopback port; this test process commits a record
through the record store, as a CLI harvest would, and asks ``/search`` until the record is found. The
wait is capped generously: how quickly it appears is a bench figure, not something a test should time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas.member import MemberCreate
from schemas.record import Record
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import free_port

pytestmark = pytest.mark.asyncio

STARTUP_CAP = 90.0  # a cold start on a loaded machine imports a lot and opens a new index
SEARCHABLE_CAP = 30.0


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``lienhop serve`` on 127.0.0.1 and a free port, on the test's data folder; stopped after."""
    port = free_port()
    lienhop = Path(sys.executable).with_name("lienhop")
    assert lienhop.exists(), f"the lienhop command is not installed next to {sys.executable}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENHOP_")}
    env["LIENHOP_HOME"] = str(settings.home)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(lienhop), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,  # no .env of the developer's checkout is read
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


async def _wait_until_up(http: httpx.AsyncClient, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_CAP
    while True:
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/health")).status_code == 200:
                return
        assert time.monotonic() < deadline, "lienhop serve did not start:\n" + log.read_text(errors="replace")
        await asyncio.sleep(0.2)


async def test_a_record_committed_by_another_process_is_found_through_the_running_server(
    server: tuple[str, Path], settings: Settings
) -> None:
    base, log = server
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await _wait_until_up(http, log)
        query = {"q": "may tinh luong tu"}
        assert (await http.get("/search", params=query)).json()["total"] == 0

        # this process is the "other" one: it writes to the server's store directly, as the CLI does
        store = await RecordStore.open(settings.db_url)
        try:
            await store.add_member(MemberCreate(code="HUE", name_vi="Đại học Huế"))
            new = Record(member="HUE", oai_identifier="oai:hue:qc-1", title="Khoa học máy tính lượng tử")
            await store.commit_page("HUE", None, [new])
        finally:
            await store.close()

        deadline = time.monotonic() + SEARCHABLE_CAP
        while True:
            body = (await http.get("/search", params=query)).json()
            if body["total"]:
                break
            assert time.monotonic() < deadline, f"not searchable after {SEARCHABLE_CAP:.0f} s: {body}"
            await asyncio.sleep(0.2)
    assert [([m["code"] for m in h["holdings"]], h["title"]) for h in body["hits"]] == [
        (["HUE"], "Khoa học máy tính lượng tử")
    ]

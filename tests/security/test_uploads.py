"""Uploads: streamed to disk with memory bounded, parsed off the event loop, DTDs refused anywhere in the
file, and every record stored or quarantined (those before a fatal XML error included)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pymarc import Field, Record, Subfield

from app.uploads import _MultipartFile
from harvesters.importer import import_file
from schemas.errors import MarcImportError
from schemas.member import MemberCreate
from store.front import RecordStore
from tests.servers import free_port

from .conftest import LOOPBACK, Clients

ROOT = Path(__file__).resolve().parents[2]
MARC_NS = "http://www.loc.gov/MARC21/slim"


def _xml_record(number: int) -> str:
    return (
        f'<record xmlns="{MARC_NS}"><leader>00000nam a2200000 a 4500</leader>'
        f'<controlfield tag="001">r{number}</controlfield>'
        f'<datafield tag="245" ind1="1" ind2="0"><subfield code="a">Thư viện số {number}</subfield>'
        "</datafield>"
        "</record>"
    )


def _marc(number: int) -> bytes:
    record = Record()
    record.add_field(Field(tag="001", data=f"u{number}"))
    record.add_field(Field(tag="245", indicators=["1", "0"], subfields=[Subfield("a", f"Sách số {number}")]))
    return bytes(record.as_marc())


def test_the_multipart_parser_finds_the_file_whatever_the_chunks() -> None:
    boundary = b"----lienhopBoundary7"
    payload = b"\r\n--" + b"x" * 300 + b"\r\n--lienhop\r\n" + bytes(range(256)) * 20
    body = (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="note"\r\n\r\nnot the file\r\n'
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="b.mrc"\r\n'
        b"Content-Type: application/marc\r\n\r\n" + payload + b"\r\n--" + boundary + b"--\r\nepilogue"
    )
    for size in (1, 2, 7, 64, 1000, len(body)):
        parser = _MultipartFile(boundary)
        out = b"".join(parser.feed(body[i : i + size]) for i in range(0, len(body), size))
        assert out == payload and parser.filename == "b.mrc" and parser.found, size


@pytest.mark.asyncio
async def test_a_dtd_anywhere_in_a_marcxml_file_is_refused(store: RecordStore, tmp_path: Path) -> None:
    await store.add_member(MemberCreate(code="LIBA", name_vi="Thư viện A"))
    padding = "<!--" + "x" * 200_000 + "-->"
    late = tmp_path / "late.xml"
    late.write_text(
        f'<?xml version="1.0"?>{padding}<!DOCTYPE c [<!ENTITY e "boom">]>'
        f'<collection xmlns="{MARC_NS}">{_xml_record(1)}</collection>'
    )
    with pytest.raises(MarcImportError, match="DTD"):
        await import_file(store, "LIBA", late)
    hidden = tmp_path / "hidden.xml"  # an entity declared after megabytes of records
    records = "".join(_xml_record(i) for i in range(5000))
    hidden.write_text(
        f'<collection xmlns="{MARC_NS}">{records}<!ENTITY e SYSTEM "file:///etc/passwd"></collection>'
    )
    with pytest.raises(MarcImportError, match="entities"):
        await import_file(store, "LIBA", hidden)
    assert await store.count_live() == 0


@pytest.mark.asyncio
async def test_records_before_a_fatal_xml_error_are_kept_and_the_error_quarantined(
    store: RecordStore, tmp_path: Path
) -> None:
    await store.add_member(MemberCreate(code="LIBA", name_vi="Thư viện A"))
    broken = tmp_path / "broken.xml"
    good = "".join(_xml_record(i) for i in range(50))
    broken.write_text(
        f'<collection xmlns="{MARC_NS}">{good}<record><broken></record>{_xml_record(99)}</collection>'
    )
    report = await import_file(store, "LIBA", broken)
    assert report.added == 50 and report.quarantined == 1
    (item,) = await store.list_quarantine("LIBA")
    assert "after 50 records" in item.reason and "not well-formed" in item.reason


@pytest.mark.asyncio
async def test_an_upload_over_the_limit_is_refused_and_not_kept(clients: Clients, app: FastAPI) -> None:
    app.state.lienhop.settings.max_upload_bytes = 10_000
    http = clients(LOOPBACK)
    big = await http.post(
        "/admin/import/LIBA", files={"file": ("big.mrc", _marc(1) * 200, "application/marc")}
    )
    assert big.status_code == 422 and "larger than" in big.json()["detail"]
    raw = await http.post(
        "/admin/import/LIBA?filename=x.mrc",
        content=_marc(1) * 200,
        headers={"content-type": "application/marc"},
    )
    assert raw.status_code == 422
    empty = await http.post("/admin/import/LIBA", files={"note": (None, b"no file here")})
    assert empty.status_code == 422
    uploads = app.state.lienhop.settings.home / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc")
def test_a_60_mb_upload_keeps_the_server_memory_bounded(tmp_path: Path) -> None:
    """The server (a real uvicorn process) stays within a generous bound while a 60 MB file is uploaded
    and imported, and keeps answering meanwhile (the parse runs off the event loop)."""
    upload = tmp_path / "big.mrc"
    with upload.open("wb") as out:
        for number in range(3000):
            out.write(_marc(number))
        junk = b"99999" + b"j" * ((1 << 20) - 5)  # unterminated: quarantined a megabyte at a time
        while out.tell() < 60 * (1 << 20):
            out.write(junk)
    port = free_port()
    env = {**os.environ, "LIENHOP_HOME": str(tmp_path / "var"), "LIENHOP_SCHEDULER_SECONDS": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/health").status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.2)
            assert (
                http.post("/admin/members", json={"code": "LIBA", "name_vi": "Thư viện A"}).status_code == 201
            )
            http.get("/search", params={"q": "thu vien"})
            baseline = _rss(server.pid)
            peak = baseline
            done = threading.Event()

            def watch() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, _rss(server.pid))
                    time.sleep(0.02)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            with upload.open("rb") as file:
                started = http.post(
                    "/admin/import/LIBA", files={"file": ("big.mrc", file, "application/marc")}
                )
            assert started.status_code == 202, started.text
            job_id = started.json()["id"]
            slowest = 0.0
            for _ in range(1200):
                began = time.monotonic()
                job = http.get(f"/admin/jobs/{job_id}").json()
                slowest = max(slowest, time.monotonic() - began)
                if job["state"] not in ("queued", "running"):
                    break
                time.sleep(0.1)
            done.set()
            watcher.join()
            assert job["state"] == "done", job
            assert job["result"]["added"] == 3000 and job["result"]["quarantined"] >= 55
            grew = (peak - baseline) / (1 << 20)
            assert grew < 200, f"the server grew by {grew:.0f} MB for a 60 MB upload"
            assert slowest < 5.0, f"the server stalled {slowest:.1f} s while importing"
            assert not list((tmp_path / "var" / "uploads").iterdir()), "the upload is removed after import"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.asyncio
async def test_an_upload_through_the_api_is_imported(clients: Clients, app: FastAPI) -> None:
    http = clients(LOOPBACK)
    started = await http.post(
        "/admin/import/LIBA?filename=two.mrc",
        content=_marc(1) + _marc(2),
        headers={"content-type": "application/marc"},
    )
    assert started.status_code == 202 and started.json()["params"]["file"].endswith("two.mrc")
    for _ in range(400):
        job = (await http.get(f"/admin/jobs/{started.json()['id']}")).json()
        if job["state"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.05)
    assert job["state"] == "done" and job["result"]["added"] == 2

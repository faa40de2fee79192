"""Job limits across server processes and public rate limits: 202 or 429 with Retry-After, never a pile."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from app.jobs import Job, JobRegistry
from app.main import create_app
from schemas.member import MemberCreate
from schemas.settings import Settings
from store.front import RecordStore
from store.tables import jobs as jobs_table

from .conftest import LOOPBACK, REMOTE, Clients, bearer, make_key

pytestmark = pytest.mark.asyncio


def _blocking(release: asyncio.Event) -> Any:
    async def work(job: Job) -> str:
        job.begin("held")
        await release.wait()
        job.end("held")
        return "released"

    return work


async def _settle(registry: JobRegistry, seconds: float = 30) -> list[Any]:
    for _ in range(int(seconds / 0.05)):
        views = await registry.list()
        if all(v.state not in ("queued", "running") for v in views):
            return views
        for kind in {v.kind for v in views}:
            running = sum(v.state == "running" and v.kind == kind for v in views)
            assert running <= 1, f"two {kind} jobs ran at once"
        await asyncio.sleep(0.05)
    raise AssertionError("jobs still pending")


async def test_thirty_reindex_requests_make_one_reindex(
    clients: Clients, app: FastAPI, settings: Settings
) -> None:
    registry: JobRegistry = app.state.lienhop.jobs
    release = asyncio.Event()
    held = await registry.start("reindex", _blocking(release))
    http = clients(LOOPBACK)
    answers = await asyncio.gather(*(http.post("/admin/reindex") for _ in range(30)))
    assert {a.status_code for a in answers} == {202}
    assert {a.json()["id"] for a in answers} == {held.id}
    # another server process on the same store sees the same job and answers it too
    other_store = await RecordStore.open(settings.db_url)
    try:
        other = JobRegistry(other_store)
        assert (await other.start("reindex", _blocking(release))).id == held.id
        assert [v.id for v in await other.list()] == [held.id]
    finally:
        await other_store.close()
    release.set()
    views = await _settle(registry)
    assert [(v.id, v.state) for v in views] == [(held.id, "done")]
    after = await http.post("/admin/reindex")  # finished: a new request starts a new one
    assert after.status_code == 202 and after.json()["id"] != held.id


async def test_a_full_queue_answers_429_with_retry_after(clients: Clients, app: FastAPI) -> None:
    registry: JobRegistry = app.state.lienhop.jobs
    release = asyncio.Event()
    held = await registry.start("harvest", _blocking(release), member="LIBA")
    http = clients(LOOPBACK)
    answers = await asyncio.gather(
        *(http.post("/admin/harvest", json={"codes": ["LIBA"]}) for _ in range(30))
    )
    accepted = [a for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.status_code == 429]
    assert len(accepted) == 3 and len(refused) == 27  # job_queue 4: the held job and three waiting
    assert all(int(a.headers["retry-after"]) > 0 for a in refused)
    assert refused[0].headers["content-type"] == "application/problem+json"
    states = {v.id: v.state for v in await registry.list()}
    assert states[held.id] == "running" and sorted(states.values()) == ["queued"] * 3 + ["running"]
    audit = (await http.get("/admin/audit", params={"limit": 40})).json()
    assert sum(e["status"] == 429 and e["outcome"] == "refused" for e in audit) == 27
    # an upload to a full queue is refused before the file is received
    held_imports = [await registry.start("import", _blocking(release)) for _ in range(4)]
    upload = await http.post("/admin/import/LIBA?filename=x.mrc", content=b"0" * 1000,
                             headers={"content-type": "application/marc"})  # fmt: skip
    assert upload.status_code == 429 and "retry-after" in upload.headers
    uploads = app.state.lienhop.settings.home / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
    release.set()
    views = await _settle(registry, seconds=60)
    assert len(views) == 4 + len(held_imports) and all(v.state in ("done", "failed") for v in views)


async def test_a_job_whose_process_stopped_frees_its_slot(app: FastAPI, clients: Clients) -> None:
    store: RecordStore = app.state.lienhop.store
    row, admitted = await store.admit_job(
        "reindex", {}, None, "gone", "dead-host:1", limit=4, dedupe=True, stale_after=60
    )
    assert row is not None and admitted and await store.claim_job("reindex", row["id"], 60)
    async with store.engine.begin() as conn:
        old = datetime.now(UTC) - timedelta(minutes=5)
        await conn.execute(update(jobs_table).where(jobs_table.c.id == row["id"]).values(heartbeat=old))
    http = clients(LOOPBACK)
    started = await http.post("/admin/reindex")
    assert started.status_code == 202 and started.json()["id"] != f"reindex-{row['id']}"
    stopped = (await http.get(f"/admin/jobs/reindex-{row['id']}")).json()
    assert stopped["state"] == "failed" and "stopped" in stopped["error"]
    await _settle(app.state.lienhop.jobs)


async def _limited_app(settings: Settings, **changes: Any) -> FastAPI:
    return create_app(settings.model_copy(update={"rate_limit": "5/minute", **changes}))


def _client(app: FastAPI, address: str, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 9))
    return httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers)


async def test_public_search_is_rate_limited_per_client(settings: Settings) -> None:
    app = await _limited_app(settings, trusted_proxies="10.0.0.1")
    async with app.router.lifespan_context(app):
        await app.state.lienhop.store.add_member(MemberCreate(code="LIBA", name_vi="Thư viện A"))
        _, client_key = await make_key(app, "client", "LIBA")
        _, admin_key = await make_key(app, "admin")
        async with _client(app, REMOTE) as remote, _client(app, LOOPBACK) as local:
            codes = [(await remote.get("/search", params={"q": "x"})).status_code for _ in range(6)]
            assert codes == [200] * 5 + [429]
            limited = await remote.get("/autocomplete", params={"q": "th"})
            assert limited.status_code == 429 and 0 < int(limited.headers["retry-after"]) <= 60
            assert (await remote.get("/members")).status_code == 200  # not a search
            assert [(await local.get("/search")).status_code for _ in range(8)] == [200] * 8  # exempt
        # behind a trusted proxy, each forwarded client has its own count; a forged hop is ignored
        async with _client(app, "10.0.0.1", **{"x-forwarded-for": "198.51.100.7"}) as proxied:
            assert [(await proxied.get("/search")).status_code for _ in range(6)] == [200] * 5 + [429]
        forged = {"x-forwarded-for": "198.51.100.7, 198.51.100.8"}  # the client wrote the first one
        async with _client(app, "10.0.0.1", **forged) as proxied:
            assert (await proxied.get("/search")).status_code == 200
        async with _client(app, "192.0.2.44", **{"x-forwarded-for": "198.51.100.9"}) as untrusted:
            assert [(await untrusted.get("/search")).status_code for _ in range(6)] == [200] * 5 + [429]
        # a client key is counted as its member, wherever its requests come from
        for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
            async with _client(app, address, **bearer(client_key)) as opac:
                for _ in range(2 if address != "192.0.2.3" else 1):
                    assert (await opac.get("/lookup", params={"isbn": "9786049086410"})).status_code == 200
        async with _client(app, "192.0.2.4", **bearer(client_key)) as opac:
            assert (await opac.get("/search")).status_code == 429
        async with _client(app, "192.0.2.5", **bearer("lhk_not-a-key")) as wrong:
            assert (await wrong.get("/search")).status_code == 401
        async with _client(app, REMOTE, **bearer(admin_key)) as admin:
            assert [(await admin.get("/search")).status_code for _ in range(8)] == [200] * 8


async def test_loopback_is_limited_when_configured(settings: Settings) -> None:
    app = await _limited_app(settings, rate_limit_loopback=True)
    async with app.router.lifespan_context(app), _client(app, LOOPBACK) as local:
        assert [(await local.get("/search")).status_code for _ in range(6)] == [200] * 5 + [429]

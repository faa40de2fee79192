"""Keys, audit entries and shared jobs in the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from schemas.auth import KeyCreate
from schemas.errors import NotFound
from schemas.member import MemberCreate
from store.front import RecordStore
from store.keys import hash_key

pytestmark = pytest.mark.asyncio


async def test_keys_are_kept_hashed(database_url: str) -> None:
    store = await RecordStore.open(database_url)
    try:
        await store.add_member(MemberCreate(code="LIBA", name_vi="Thư viện A"))
        assert not await store.has_admin_key(date.today())
        made, key = await store.add_key(KeyCreate(scope="curator", member="liba", label="curator"))
        assert made.member == "LIBA" and (await store.find_key(key)) == made
        assert await store.find_key(key + "x") is None
        async with store.engine.connect() as conn:
            stored = (await conn.exec_driver_sql("SELECT hash FROM api_keys")).scalar_one()
        assert stored == hash_key(key) and key not in stored
        await store.add_key(KeyCreate(scope="admin", label="old", expires=date.today() - timedelta(days=1)))
        assert not await store.has_admin_key(date.today())
        admin, _ = await store.add_key(KeyCreate(scope="admin", label="office"))
        assert await store.has_admin_key(date.today())
        assert (await store.revoke_key(admin.id)).revoked is not None
        assert not await store.has_admin_key(date.today())
        assert [k.label for k in await store.list_keys()] == ["curator", "old", "office"]
        with pytest.raises(NotFound):
            await store.add_key(KeyCreate(scope="client", member="NOPE", label="x"))
        with pytest.raises(NotFound):
            await store.revoke_key(99)
        await store.audit("loopback", "POST /admin/reindex", "ok", 202, client="127.0.0.1")
        (entry,) = await store.list_audit()
        assert (entry.who, entry.action, entry.outcome, entry.status) == (
            "loopback",
            "POST /admin/reindex",
            "ok",
            202,
        )
    finally:
        await store.close()


async def test_one_job_of_a_kind_runs_across_processes(database_url: str) -> None:
    first, second = await asyncio.gather(RecordStore.open(database_url), RecordStore.open(database_url))
    try:
        admitted = await asyncio.gather(
            *(
                store.admit_job("harvest", {}, None, "t", f"p{i}", limit=3, dedupe=False, stale_after=60)
                for i, store in enumerate([first, second] * 4)
            )
        )
        jobs = [row for row, ok in admitted if ok]
        assert len(jobs) == 3 and sum(row is None for row, _ in admitted) == 5
        claims = await asyncio.gather(
            *(store.claim_job("harvest", row["id"], 60) for store in (first, second) for row in jobs)
        )
        assert sum(claims) == 1, "exactly the oldest job starts, once"
        oldest = min(row["id"] for row in jobs)
        assert (await second.get_job(oldest))["state"] == "running"
        await first.finish_job("harvest", oldest, state="done")
        assert await second.claim_job("harvest", oldest + 1, 60)
        row, ok = await first.admit_job("reindex", {}, None, "t", "p", limit=3, dedupe=True, stale_after=60)
        again, ok_again = await second.admit_job(
            "reindex", {}, None, "t", "p", limit=3, dedupe=True, stale_after=60
        )
        assert ok and not ok_again and row is not None and again is not None and again["id"] == row["id"]
    finally:
        await first.close()
        await second.close()

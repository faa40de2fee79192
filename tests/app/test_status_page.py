"""The harvest status pages member librarians and admins read: failures, quarantine and late schedules."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from harvesters.runner import harvest_members
from schemas.member import MemberCreate
from schemas.settings import Settings
from store.common import utcnow
from store.front import RecordStore
from store.tables import runs
from tests.harvesters.test_faults import START
from tests.servers import free_port, serve_in_thread
from tests.servers.faulty import Fault, FaultyProvider, vietnamese_records

pytestmark = pytest.mark.asyncio


def _row(page: str, code: str) -> str:
    """The table row of one member on /status."""
    found = re.search(rf'<tr[^>]*>\s*<t[dh][^>]*><a href="/status/{code}">.*?</tr>', page, re.S)
    assert found, f"no row for {code}"
    return found.group(0)


async def test_status_shows_failures_quarantine_and_overdue_schedules(
    app_client: httpx.AsyncClient, store: RecordStore, settings: Settings
) -> None:
    app = FaultyProvider(records=vietnamese_records(8, START))

    def spoil(body: bytes) -> bytes:
        return re.sub(rb"(oai:faulty:000004</identifier><datestamp>)[^<]+", rb"\1not a date", body)

    app.script = [Fault(transform=spoil)]
    dead = f"http://127.0.0.1:{free_port()}/oai"
    quick = settings.model_copy(update={"max_retries": 0})
    with serve_in_thread(app) as url:
        await store.add_member(MemberCreate(code="GOOD", name_vi="Thư viện tốt", oai_url=url + "/oai"))
        await store.add_member(MemberCreate(code="DOWN", name_vi="Thư viện mất kết nối", oai_url=dead))
        await store.add_member(MemberCreate(code="LATE", name_vi="Lịch bị dừng", oai_url=url + "/oai"))
        await store.add_member(MemberCreate(code="HAND", name_vi="Thu thập tay", harvest_schedule="manual"))
        await harvest_members(store, quick, ["GOOD", "DOWN"])
    # LATE's last daily harvest started two days ago, and nothing has run since
    run = await store.start_run("LATE", "harvest")
    assert run.id is not None
    await store.finish_run(run.id, ok=True)
    async with store.engine.begin() as conn:
        await conn.execute(
            update(runs).where(runs.c.id == run.id).values(started=utcnow() - timedelta(days=2))
        )

    assert "4 đơn vị; 1 lần thu thập gần nhất lỗi, 1 quá hạn" in (await app_client.get("/status")).text
    page = (await app_client.get("/status", params={"lang": "en"})).text
    good = _row(page, "GOOD")
    assert "ok" in good and "attention" not in good and ">7<" in good  # 7 records, 1 quarantined
    assert 'href="/status/GOOD#quarantine">1<' in good
    assert "failed" in _row(page, "DOWN") and "attention" in _row(page, "DOWN")
    assert "overdue since" in _row(page, "LATE") and "attention" in _row(page, "LATE")
    hand = _row(page, "HAND")
    assert "Manual" in hand and "never" in hand and "overdue" not in hand

    detail = (await app_client.get("/status/GOOD")).text
    assert "oai:faulty:000004" in detail and "not a date" in detail  # the quarantined record and why
    down = (await app_client.get("/status/DOWN")).text
    assert "failed" in down and "1 attempts" in down  # the run's error, as the harvest recorded it
    assert (await app_client.get("/status/NOPE")).status_code == 404
    health = (await app_client.get("/health")).json()
    assert health["harvests"] == {"failing": ["DOWN"], "overdue": ["LATE"]}
    assert health["status"] == "ok"  # a member's failed harvest is not the service's failure
    report = (await app_client.get("/members/LATE")).json()
    assert report["harvest_overdue"] is True and report["next_harvest"] is not None

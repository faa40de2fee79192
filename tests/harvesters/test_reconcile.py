"""Deletion reconciliation: records a repository silently drops stop being held, and only those."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harvesters.runner import harvest_members
from schemas.member import RunReport
from schemas.record import Record
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from tests.servers.faulty import Fault, FaultyProvider, vietnamese_records

from .support import add_member, stored

pytestmark = pytest.mark.asyncio

START = datetime(2024, 5, 10, 9, 30, tzinfo=UTC)


def _live(records: dict[str, Record]) -> set[str]:
    return {oai_id for oai_id, rec in records.items() if not rec.deleted}


def _listed_identifiers(app: FaultyProvider) -> bool:
    """Whether the harvester has asked ``app`` for ListIdentifiers (a reconciliation) so far."""
    return any(q.get("verb") == "ListIdentifiers" for q in app.requests)


@contextlib.asynccontextmanager
async def _harvested(
    store: RecordStore, tmp_path: Path, app: FaultyProvider, code: str, **fields: Any
) -> AsyncIterator[tuple[Settings, RunReport]]:
    """``app`` served on loopback, ``code`` registered on it and harvested once (that run's report)."""
    settings = Settings(home=tmp_path / "var", backoff_base=0.01, max_retries=1)
    with serve_in_thread(app) as url:
        await add_member(store, code, url + "/oai", **fields)
        [first] = await harvest_members(store, settings)
        yield settings, first


async def test_full_harvest_of_a_repository_without_deletion_reports_drops_what_it_no_longer_lists(
    store: RecordStore, tmp_path: Path
) -> None:
    app = FaultyProvider(records=vietnamese_records(30, START), deleted_record="no")
    async with _harvested(store, tmp_path, app, "TVU") as (settings, first):
        assert first.ok and first.added == 30
        # a record the member imported from a MARC file was never in the repository
        imported = Record(member="TVU", oai_identifier="marc:TVU-0001", title="Sách nhập từ tệp MARC")
        await store.commit_page("TVU", None, [imported])
        withdrawn = {r.identifier for r in app.records[5:8]}
        app.records = [r for r in app.records if r.identifier not in withdrawn]

        [incremental] = await harvest_members(store, settings)  # no deletion is ever reported...
        assert incremental.ok and incremental.deleted == 0
        assert not _listed_identifiers(app)

        [full] = await harvest_members(store, settings, full=True)  # ...so the full harvest looks

    assert full.ok, full.error
    assert full.deleted == 3
    records = await stored(store, "TVU")
    assert _live(records) == {r.identifier for r in app.records} | {"marc:TVU-0001"}
    assert all(records[oai_id].deleted for oai_id in withdrawn)
    assert (await store.record_counts("TVU"))["TVU"].deleted == 3


async def test_ordinary_harvests_reconcile_once_the_last_reconciliation_is_a_week_old(
    store: RecordStore, tmp_path: Path
) -> None:
    """What the scheduler's daily harvests do: no ListIdentifiers each day, but ghosts go within a week."""
    app = FaultyProvider(records=vietnamese_records(15, START), deleted_record="transient")
    async with _harvested(store, tmp_path, app, "VNUA") as (settings, _):
        first = await store.last_reconciled("VNUA")
        assert first is not None  # the first complete harvest starts the clock
        gone = app.records.pop(2).identifier
        [daily] = await harvest_members(store, settings)
        assert daily.deleted == 0 and not _listed_identifiers(app)

        await store.set_last_reconciled("VNUA", first - timedelta(days=7, minutes=1))
        [weekly] = await harvest_members(store, settings)

    assert weekly.ok and weekly.deleted == 1
    assert (await stored(store, "VNUA"))[gone].deleted
    assert (await store.last_reconciled("VNUA") or first) > first


async def test_persistent_repository_is_reconciled_only_when_asked(
    store: RecordStore, tmp_path: Path
) -> None:
    app = FaultyProvider(records=vietnamese_records(12, START))  # says deletedRecord=persistent
    async with _harvested(store, tmp_path, app, "HUE") as (settings, _):
        app.records.pop(0)  # dropped without a tombstone, against its own policy
        [full] = await harvest_members(store, settings, full=True)
        assert full.deleted == 0
        assert not _listed_identifiers(app)
        [asked] = await harvest_members(store, settings, reconcile=True)

    assert asked.ok and asked.deleted == 1
    assert _live(await stored(store, "HUE")) == {r.identifier for r in app.records}


async def test_reconciliation_only_looks_in_the_members_sets(store: RecordStore, tmp_path: Path) -> None:
    records = vietnamese_records(20, START)
    for i, rec in enumerate(records):
        rec.sets = ("theses",) if i % 2 else ("articles",)
    app = FaultyProvider(records=records, deleted_record="transient")
    async with _harvested(store, tmp_path, app, "NEU", sets=["theses"]) as (settings, first):
        assert first.added == 10
        gone = app.records.pop(1).identifier  # a thesis
        [full] = await harvest_members(store, settings, full=True)

    assert full.ok and full.deleted == 1
    assert all(q.get("set") == "theses" for q in app.requests if q.get("verb") == "ListIdentifiers")
    records = await stored(store, "NEU")
    assert records[gone].deleted and len(_live(records)) == 9


async def test_a_listing_that_would_delete_most_records_is_refused_until_forced(
    store: RecordStore, tmp_path: Path
) -> None:
    app = FaultyProvider(records=vietnamese_records(20, START), deleted_record="no")
    async with _harvested(store, tmp_path, app, "VNUF") as (settings, _):
        app.records = app.records[:5]  # a repository that lost its database, or a broken set
        [refused] = await harvest_members(store, settings, full=True)
        assert not refused.ok
        assert "15 of the 20" in (refused.error or "") and "--force" in (refused.error or "")
        assert len(_live(await stored(store, "VNUF"))) == 20
        [forced] = await harvest_members(store, settings, full=True, force=True)

    assert forced.ok and forced.deleted == 15
    assert len(_live(await stored(store, "VNUF"))) == 5


async def test_a_listing_that_fails_half_way_deletes_nothing(store: RecordStore, tmp_path: Path) -> None:
    app = FaultyProvider(records=vietnamese_records(30, START), deleted_record="no")
    async with _harvested(store, tmp_path, app, "HCMUE") as (settings, _):
        app.records = app.records[:-2]
        # ListRecords pages 1-3 and the first ListIdentifiers page answer; the second fails every retry
        app.script = [None, None, None, None, Fault(status=500), Fault(status=500)]
        [failed] = await harvest_members(store, settings, full=True)

    assert not failed.ok and failed.error
    assert failed.deleted == 0
    assert len(_live(await stored(store, "HCMUE"))) == 30

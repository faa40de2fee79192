"""Incremental harvests (``from`` at the repository's granularity) and a harvest killed mid-way."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harvesters.runner import harvest_members
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from tests.servers.faulty import FaultyProvider, vietnamese_records

from .support import add_member, snapshot, stored

START = datetime(2024, 5, 10, 9, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("granularity", "expected_from"),
    [("YYYY-MM-DDThh:mm:ssZ", "2024-05-10T08:54:00Z"), ("YYYY-MM-DD", "2024-05-09")],  # newest - 1 h
)
async def test_second_harvest_asks_from_at_the_granularity_and_sees_changes_and_deletions(
    store: RecordStore, tmp_path: Path, granularity: str, expected_from: str
) -> None:
    settings = Settings(home=tmp_path / "var", backoff_base=0.01, harvest_overlap_seconds=3600)
    app = FaultyProvider(records=vietnamese_records(25, START), granularity=granularity)
    with serve_in_thread(app) as url:
        await add_member(store, "HUST", url + "/oai")
        [first] = await harvest_members(store, settings)
        assert first.ok and first.added == 25
        assert "from" not in app.requests[1]
        _, high_water = await store.get_harvest_state("HUST")
        # the high-water mark is the newest datestamp of all pages, not of the last page only
        newest = START + timedelta(minutes=24)
        assert high_water == (newest if "T" in granularity else newest.replace(hour=0, minute=0))

        later = START + timedelta(hours=2)
        app.records[3].title = "Bản đã sửa"
        app.records[3].datestamp = later
        app.records[4].deleted = True
        app.records[4].datestamp = later
        app.requests.clear()
        [second] = await harvest_members(store, settings)

    assert second.ok, second.error
    listing = [q for q in app.requests if q.get("verb") == "ListRecords"]
    assert listing[0]["from"] == expected_from
    assert (second.updated, second.deleted) == (1, 1)
    records = await stored(store)
    assert records["oai:faulty:000003"].title == "Bản đã sửa"
    assert records["oai:faulty:000004"].deleted
    assert len(records) == 25

    # a full harvest ignores the high-water mark
    with serve_in_thread(app) as url:
        await store.update_member("HUST", oai_url=url + "/oai")
        app.requests.clear()
        [full] = await harvest_members(store, settings, full=True)
    assert full.ok and "from" not in next(q for q in app.requests if q.get("verb") == "ListRecords")
    assert full.unchanged == 25


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("declared", "refused", "sent"),
    [
        # declares seconds, refuses them (as nakala did): `from` goes again as the day, which widens it
        ("YYYY-MM-DDThh:mm:ssZ", "seconds", ["2024-05-10T08:54:00Z", "2024-05-10"]),
        # declares days, refuses them (old DSpace XOAI, DSpace/xoai#34): the same instant in seconds
        ("YYYY-MM-DD", "days", ["2024-05-09", "2024-05-09T00:00:00Z"]),
    ],
)
async def test_from_refused_at_the_declared_granularity_is_sent_at_the_other(
    store: RecordStore, tmp_path: Path, declared: str, refused: str, sent: list[str]
) -> None:
    settings = Settings(home=tmp_path / "var", backoff_base=0.01, harvest_overlap_seconds=3600)
    app = FaultyProvider(records=vietnamese_records(25, START), granularity=declared, refuses_from=refused)
    with serve_in_thread(app) as url:
        await add_member(store, "HUST", url + "/oai")
        [first] = await harvest_members(store, settings)
        app.records[3].title = "Bản đã sửa"
        app.records[3].datestamp = START + timedelta(hours=2)
        app.requests.clear()
        [second] = await harvest_members(store, settings)
    assert first.ok and second.ok, second.error
    firsts = [q for q in app.requests if q.get("verb") == "ListRecords" and "resumptionToken" not in q]
    assert [q.get("from") for q in firsts] == sent
    assert second.updated == 1
    assert (await stored(store))["oai:faulty:000003"].title == "Bản đã sửa"


_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from harvesters.runner import harvest_members
    from schemas.settings import Settings
    from store.front import RecordStore

    async def main() -> None:
        settings = Settings(home=sys.argv[1], backoff_base=0.05, harvest_allow_networks="127.0.0.0/8")
        store = await RecordStore.open(settings.db_url)
        await harvest_members(store, settings)

    asyncio.run(main())
    """
)


def _provider() -> FaultyProvider:
    records = vietnamese_records(240, START, step_seconds=37)
    for rec in records[::17]:
        rec.deleted = True
    return FaultyProvider(records=records, page_size=10, delay=0.04)


def _session_processes(session: int) -> list[int]:
    """The processes still running in ``session`` (a killed harvest's parse workers would be).

    Read from ``/proc``; where there is none (not Linux), nothing can be seen and none is reported.
    """
    found: list[int] = []
    if not Path("/proc/self/stat").exists():
        return found
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended meanwhile
                continue
            if int(fields[3]) == session and fields[0] != "Z":
                found.append(int(entry.name))
    return found


@pytest.mark.asyncio
@pytest.mark.parametrize("workers", ["0", "2"], ids=["inline", "two-workers"])
async def test_killed_harvest_resumes_and_ends_like_an_uninterrupted_one(
    tmp_path: Path, workers: str
) -> None:
    """Killed with pages being read ahead by parse workers or not, the harvest resumes from its checkpoint."""
    killed_home, clean_home = tmp_path / "killed", tmp_path / "clean"
    app = _provider()
    with serve_in_thread(app) as url:
        killed = Settings(home=killed_home, backoff_base=0.05)
        store = await RecordStore.open(killed.db_url)
        try:
            await add_member(store, "VNU", url + "/oai")
            env = {k: v for k, v in os.environ.items() if not k.startswith("LIENHOP_")}
            env["LIENHOP_HARVEST_PARSE_WORKERS"] = workers
            child = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(killed_home)], cwd=ROOT, env=env, start_new_session=True
            )
            try:
                for _ in range(400):  # wait until some pages are durably committed
                    await asyncio.sleep(0.025)
                    runs = await store.list_runs("VNU")
                    if runs and runs[0].pages >= 6:
                        break
                child.send_signal(signal.SIGKILL)
            finally:
                child.wait(timeout=10)
            assert child.returncode == -signal.SIGKILL
            for _ in range(100):  # the parse workers see their harvest gone and end
                if not _session_processes(child.pid):
                    break
                await asyncio.sleep(0.05)
            assert _session_processes(child.pid) == []
            [interrupted] = await store.list_runs("VNU")
            assert interrupted.finished is None and 6 <= interrupted.pages < 24
            in_progress, _ = await store.get_harvest_state("VNU")
            assert in_progress is not None and in_progress["token"]

            app.requests.clear()
            [resumed] = await harvest_members(store, killed)
            assert resumed.ok, resumed.error
            first = next(q for q in app.requests if q.get("verb") == "ListRecords")
            assert first == {"verb": "ListRecords", "resumptionToken": in_progress["token"]}
            assert (await store.get_run(interrupted.id or 0)).ok is False  # closed as interrupted
            assert (await store.get_harvest_state("VNU"))[0] is None
            after_kill = await snapshot(store)
            counts = await store.record_counts("VNU")
        finally:
            await store.close()

        clean = Settings(home=clean_home, backoff_base=0.05)
        reference = await RecordStore.open(clean.db_url)
        try:
            await add_member(reference, "VNU", url + "/oai")
            [whole] = await harvest_members(reference, clean)
            assert whole.ok
            expected = await snapshot(reference)
        finally:
            await reference.close()

    assert len(after_kill) == 240 and len({row[0] for row in after_kill}) == 240
    assert counts["VNU"].deleted == len(range(0, 240, 17))
    assert after_kill == expected

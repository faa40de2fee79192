"""A user who sets LIENHOP_DATABASE_URL to PostgreSQL gets what SQLite gives: harvest, reindex, search.

Each test does the same thing on a SQLite store and on a new PostgreSQL database and compares what a
user sees (run reports, records and their change numbers, quarantine, checkpoints, search answers).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import cli
from harvesters.runner import harvest_members
from indexer.pipeline import Indexer
from schemas.member import MemberCreate
from schemas.record import Identifiers, Record
from schemas.search import SearchRequest
from schemas.settings import Settings
from search.service import SearchService
from search.tantivy_index import TantivyBackend
from store.front import RecordStore
from tests.harvesters.support import add_member
from tests.servers import serve_in_thread
from tests.servers.faulty import Fault, FaultyProvider, vietnamese_records

START = datetime(2024, 5, 10, 9, 30, tzinfo=UTC)


def _provider() -> FaultyProvider:
    records = vietnamese_records(45, START, step_seconds=90)
    for rec in records[::7]:
        rec.deleted = True
    records[12].title = "Tạp chí\x0b Khoa học"  # an illegal XML character: the page is cleaned
    return FaultyProvider(records=records, page_size=10)


async def _harvest_story(store: RecordStore, settings: Settings) -> dict[str, Any]:
    """Three harvests of one member over loopback HTTP; returns everything a user could look at."""
    app = _provider()
    # the second page is broken (with a NUL byte) until the harvest gives up: it is quarantined
    broken = Fault(body=b"<OAI-PMH>\x00<ListRecords><record><header>")
    app.script = [None, broken, broken, broken]
    reports = []
    firsts = []
    with serve_in_thread(app) as url:
        await add_member(store, "HUST", url + "/oai")
        for change in (None, None, "edit"):
            if change == "edit":  # changed and deleted upstream since: the incremental run sees both
                later = START + timedelta(days=2)
                app.records[3].title, app.records[3].datestamp = "Bản đã sửa", later
                app.records[5].deleted, app.records[5].datestamp = True, later
            app.requests.clear()
            [report] = await harvest_members(store, settings)
            reports.append(report)
            firsts.append(next(q for q in app.requests if q.get("verb") == "ListRecords"))
    in_progress, high_water = await store.get_harvest_state("HUST")
    return {
        "reports": [
            (r.ok, r.pages, r.added, r.updated, r.deleted, r.unchanged, r.quarantined) for r in reports
        ],
        "errors": ["MalformedPage" in (r.error or "") for r in reports],
        "first_requests": firsts,
        "records": sorted(
            (c.id, c.seq, c.deleted, c.record.model_dump_json(exclude={"raw"}), c.record.raw)
            for c in await store.changes_since(0, limit=10_000)
        ),
        "counts": {k: v.model_dump() for k, v in (await store.record_counts()).items()},
        "quarantine": [(q.oai_identifier, q.reason, q.raw) for q in await store.list_quarantine("HUST")],
        "state": (in_progress, high_water),
    }


@pytest.mark.asyncio
async def test_harvest_over_http_into_postgresql_ends_as_on_sqlite(tmp_path: Path, postgres_url: str) -> None:
    outcomes = {}
    for name, url in (("sqlite", None), ("postgresql", postgres_url)):
        settings = Settings(
            home=tmp_path / name,
            database_url=url,
            backoff_base=0.05,
            max_retry_after=2.0,
            request_timeout=5.0,
        )
        store = await RecordStore.open(settings.db_url)
        try:
            outcomes[name] = await _harvest_story(store, settings)
        finally:
            await store.close()
    assert not (tmp_path / "postgresql" / "lienhop.sqlite").exists(), "the URL was not used"

    pg = outcomes["postgresql"]
    assert [r[0] for r in pg["reports"]] == [False, True, True]
    assert pg["errors"] == [True, False, False]
    assert pg["first_requests"][1] == {"verb": "ListRecords", "resumptionToken": "10|||"}
    assert pg["first_requests"][2]["from"] == "2024-05-09T10:36:00Z"  # newest datestamp - 1 day overlap
    assert pg["reports"][2][3:5] == (1, 1), "the edit and the deletion"
    assert pg["counts"]["HUST"] == {"active": 45 - 7 - 1, "deleted": 8, "quarantined": 1}
    [(_, reason, raw)] = pg["quarantine"]
    assert reason.startswith("malformed ListRecords page (token '10|||')") and "\ufffd" in raw
    assert pg["state"] == (None, START + timedelta(days=2))
    assert any("Tạp chí Khoa học" in row[3] for row in pg["records"])

    for key in pg:
        assert outcomes["sqlite"][key] == pg[key], f"{key} differs between SQLite and PostgreSQL"


def _catalogue() -> list[Record]:
    """Two members, a shared ISBN, Vietnamese titles, and tombstones."""
    titles = ["Thư viện số", "Khoa học máy tính", "Lúa gạo đồng bằng sông Cửu Long", "Địa chất Việt Nam"]
    recs = []
    for member in ("HUE", "VNU"):
        for i in range(40):
            recs.append(
                Record(
                    member=member,
                    oai_identifier=f"oai:{member.lower()}:{i}",
                    title=f"{titles[i % 4]}, tập {i}",
                    authors=["Nguyễn Văn An" if i % 2 else "Trần Thị Bình"],
                    year=1995 + i % 25,
                    language="vie",
                    identifiers=Identifiers(isbn=["9786040000001"] if i == 7 else []),
                    deleted=i % 9 == 0,
                )
            )
    return recs


async def _reindex_story(store: RecordStore, index_dir: Path) -> dict[str, Any]:
    for code, name in (("HUE", "Đại học Huế"), ("VNU", "Đại học Quốc gia Hà Nội")):
        await store.add_member(MemberCreate(code=code, name_vi=name))
    catalogue = _catalogue()
    for member in ("HUE", "VNU"):
        await store.commit_page(member, None, [r for r in catalogue if r.member == member])
    backend = TantivyBackend(index_dir)
    await backend.open()
    try:
        indexer, service = Indexer(store, backend, batch=25), SearchService(backend)
        report = await indexer.reindex()
        answers = {}
        for q in ("thu vien", "khoa học máy tính", 'author:"Trần Thị Bình"', "dia chat year:2000..2010"):
            found = await service.search(SearchRequest(q=q, size=50))
            answers[q] = (
                found.total,
                [h.work_id for h in found.hits],
                found.model_dump(mode="json")["facets"],
            )
        position_ok = report.position == (await store.work_changes_since(0, limit=10_000))[-1][1]
        live = await store.count_live()
        gone = next(r for r in catalogue if r.deleted)
        new = Record(member="VNU", oai_identifier="oai:vnu:new", title="Vật liệu nano")
        await store.commit_page("VNU", None, [new])
        synced = await indexer.sync()
        after = (await service.search(SearchRequest(q="vat lieu nano"))).total
        return {
            "indexed": report.indexed,
            "live": live,
            "position_is_the_store's": position_ok,
            "answers": answers,
            "tombstone_indexed": (await service.search(SearchRequest(q=f'title:"{gone.title}"'))).total > 0,
            "synced": synced,
            "after": after,
            "holders": [h.member.code for h in await store.find_by_identifier("isbn", "9786040000001")],
        }
    finally:
        await backend.close()


@pytest.mark.asyncio
async def test_reindex_from_postgresql_into_the_embedded_index(tmp_path: Path, postgres_url: str) -> None:
    outcomes = {}
    for name, url in (
        ("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite'}"),
        ("postgresql", postgres_url),
    ):
        store = await RecordStore.open(url)
        try:
            outcomes[name] = await _reindex_story(store, tmp_path / f"index-{name}")
        finally:
            await store.close()
    pg = outcomes["postgresql"]
    # both members catalogue the same 40 titles (same author and year): 35 live works held by both
    assert 2 * pg["indexed"] == pg["live"] == 80 - 2 * 5 and pg["position_is_the_store's"]
    assert not pg["tombstone_indexed"]
    # "Thư viện số" is every 4th title of each member; tập 0 and tập 36 are tombstones, left out
    assert pg["answers"]["thu vien"][0] == 10 - 2
    assert pg["synced"] == 1 and pg["after"] == 1
    assert pg["holders"] == ["HUE", "VNU"]
    assert outcomes["sqlite"] == pg


def test_the_cli_with_lienhop_database_url_uses_postgresql(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """members add, harvest, search and reindex through the `lienhop` command, on PostgreSQL.

    The URL is given as a DBA writes it, without a driver (``postgresql://``): asyncpg is implied.
    """
    home = tmp_path / "home"
    monkeypatch.setenv("LIENHOP_HOME", str(home))
    monkeypatch.setenv("LIENHOP_DATABASE_URL", postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    monkeypatch.setenv("LIENHOP_BACKOFF_BASE", "0.05")

    def lienhop(*args: str) -> Any:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == 0, result.output
        return result

    app = FaultyProvider(records=vietnamese_records(25, START), page_size=10)
    with serve_in_thread(app) as url:
        lienhop("members", "add", "HUST", "--name", "Đại học Bách khoa Hà Nội", "--oai-url", url + "/oai")
        lienhop("harvest")
    found = json.loads(lienhop("search", "y hoc co truyen", "--json").stdout)
    assert found["total"] == 6 and all("Y học cổ truyền" in h["title"] for h in found["hits"])
    assert "indexed: 25" in lienhop("reindex").stdout
    assert json.loads(lienhop("search", "dia chat", "--json").stdout)["total"] == 6
    assert not (home / "lienhop.sqlite").exists(), "the CLI wrote a SQLite store despite the URL"

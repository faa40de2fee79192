"""The embedded tantivy index shared by two processes: a running server and a CLI harvest both index."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from schemas.errors import BackendUnavailable
from schemas.search import FacetValue, SearchRequest
from search.query import parse_query
from search.tantivy_index import TantivyBackend
from tests.search.support import make_doc

pytestmark = pytest.mark.asyncio


async def test_two_writers_of_one_folder_take_turns(tmp_path: Path) -> None:
    # Two backends on one folder behave like two processes: tantivy's writer lock is per folder.
    server, cli = TantivyBackend(tmp_path / "tantivy"), TantivyBackend(tmp_path / "tantivy")
    await server.open()
    await cli.open()
    try:
        await server.bulk([make_doc("a", "Thư viện số")])
        # the CLI writes while the server's batch is not committed yet: it waits, it does not fail
        cli_write = asyncio.create_task(cli.bulk([make_doc("b", "Khoa học máy tính")]))
        await asyncio.sleep(0.2)
        await server.set_position(1)
        await cli_write
        await cli.set_position(2)
        await server.refresh()
        assert await server.count() == 2 and await cli.count() == 2
        assert await server.get_position() == 2
    finally:
        await server.close()
        await cli.close()


async def test_a_writer_held_too_long_is_a_backend_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The API answers 503 and the CLI one line, rather than tantivy's bare ValueError (a 500).
    monkeypatch.setattr("search.tantivy_index._LOCK_WAIT", 0.3)
    server, cli = TantivyBackend(tmp_path / "tantivy"), TantivyBackend(tmp_path / "tantivy")
    await server.open()
    await cli.open()
    try:
        await server.bulk([make_doc("a", "Thư viện số")])  # holds the writer until it commits
        with pytest.raises(BackendUnavailable, match="another process"):
            await cli.bulk([make_doc("b", "Khoa học máy tính")])
    finally:
        await server.close()
        await cli.close()


async def test_year_facet_lists_every_year_beyond_one_aggregation(tmp_path: Path) -> None:
    # 1,500 distinct years: more than the first aggregation asks for (1,000), so the backend asks again.
    backend = TantivyBackend(tmp_path / "tantivy")
    await backend.open()
    try:
        years = range(501, 2001)
        docs = [
            make_doc(f"d{year}-{copy}", "Thư viện số", year=year)
            for year in years
            for copy in range(year % 3 + 1)  # 1 to 3 documents a year: counts differ between years
        ]
        docs.append(make_doc("no-year", "Thư viện số"))  # no year: not counted
        await backend.bulk(docs)
        await backend.refresh()
        request = SearchRequest(q="thu vien", facets=["year"], size=0)
        result = await backend.search(parse_query(request.q), request)
        assert result.total == len(docs)
        assert result.facets["year"] == [FacetValue(value=str(y), count=y % 3 + 1) for y in years]
    finally:
        await backend.close()


async def test_bulk_replaces_and_reports_documents_it_cannot_build(tmp_path: Path) -> None:
    backend = TantivyBackend(tmp_path / "tantivy")
    await backend.open()
    try:
        await backend.bulk([make_doc("a", "Thư viện số"), make_doc("b", "Khoa học máy tính")])
        await backend.refresh()
        broken = make_doc("c", "Cơ sở dữ liệu", year=2**70)  # beyond tantivy's 64-bit integers
        report = await backend.bulk([make_doc("a", "Kinh tế học"), broken])
        await backend.refresh()
        assert report.indexed == 1 and [doc_id for doc_id, _ in report.failed] == ["c"]
        assert await backend.count() == 2  # "a" replaced, not duplicated; "c" not indexed
        doc = await backend.get("a")
        assert doc is not None and doc.title == "Kinh tế học"
    finally:
        await backend.close()


async def test_facets_counted_beside_the_hits_match_counted_after_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large index counts its facets on a second thread while the hits are searched; same answers.
    backend = TantivyBackend(tmp_path / "tantivy")
    await backend.open()
    try:
        await backend.bulk(
            [
                make_doc(
                    f"d{i}",
                    f"Thư viện số tập {i}",
                    member=f"m{i % 3}",
                    year=2000 + i % 4,
                    subjects=[f"s{i % 5}"],
                )
                for i in range(40)
            ]
        )
        await backend.refresh()
        request = SearchRequest(q="thu vien NOT member:m1", size=5, facet_size=3)
        parsed = parse_query(request.q)
        serial = await backend.search(parsed, request)
        monkeypatch.setattr("search.tantivy_index.PARALLEL_FACETS_DOCS", 0)
        beside = await backend.search(parsed, request)
        assert beside.facets == serial.facets and beside.facets["member"] == [
            FacetValue(value="m0", count=14),
            FacetValue(value="m2", count=13),
        ]
        assert [h.doc.id for h in beside.hits] == [h.doc.id for h in serial.hits] and beside.total == 27
    finally:
        await backend.close()

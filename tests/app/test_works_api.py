"""Works over HTTP and the CLI: a shared book held by five members, a curator's split and join."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.demo.generator import shared_works
from tests.app.conftest import Harvested

pytestmark = pytest.mark.asyncio

SHARED = shared_works()[0]  # a book held by NASATI, VNUHCM, HUE, TVU and VNUA


async def shared_records(client: httpx.AsyncClient) -> dict[str, str]:
    """record id -> member code of the shared book's records."""
    found = (await client.get("/lookup", params={"isbn": SHARED.isbn13})).json()
    return {r["record_id"]: m["code"] for w in found["works"] for m in w["holdings"] for r in m["records"]}


async def work_of(client: httpx.AsyncClient, record_id: str) -> str:
    body = (await client.get(f"/records/{record_id}")).json()
    return str(body["work_id"])


async def test_a_shared_book_is_one_work_held_by_five_members(client: httpx.AsyncClient) -> None:
    held = await shared_records(client)
    assert sorted(set(held.values())) == sorted(SHARED.holders)
    works = {await work_of(client, rid) for rid in held}
    assert len(works) == 1
    work_id = works.pop()
    response = await client.get(f"/works/{work_id}", params={"member": "TVU"})
    assert response.status_code == 200
    body = response.json()
    assert body["work_id"] == work_id and body["title"].startswith(SHARED.title)
    assert body["holdings_count"] == 5
    assert body["holdings"][0]["code"] == "TVU", "the member asked for comes first"
    tvu = body["holdings"][0]
    assert tvu["name_vi"] and tvu["status"] == "member"
    assert tvu["records"][0]["opac_url"] == f"http://opac.tvu.example.vn/search?isbn={SHARED.isbn13}"
    assert {r["record_id"] for r in body["records"]} == set(held)
    assert all(r["isbn"] == [SHARED.isbn13] and r["year"] == SHARED.year for r in body["records"])
    assert sorted(r["joined_by"] or "" for r in body["records"]) == ["", *[f"isbn:{SHARED.isbn13}"] * 4]
    assert (await client.get("/works/w999999")).status_code == 404


async def test_split_then_join_round_trip_and_a_merged_id_redirects(client: httpx.AsyncClient) -> None:
    held = await shared_records(client)
    record_id = next(rid for rid, code in held.items() if code == "HUE")
    work_id = await work_of(client, record_id)

    response = await client.post("/admin/works/split", json={"record_id": record_id})
    assert response.status_code == 201, response.text
    split = response.json()
    assert (split["kind"], split["record_id"]) == ("split", record_id)
    alone = await work_of(client, record_id)
    assert alone != work_id
    assert (await client.get(f"/works/{work_id}")).json()["holdings_count"] == 4
    detail = (await client.get(f"/works/{alone}")).json()
    assert detail["holdings_count"] == 1 and [o["id"] for o in detail["overrides"]] == [split["id"]]

    response = await client.post("/admin/works/join", json={"work_ids": [alone, work_id]})
    assert response.status_code == 201, response.text
    join = response.json()
    assert await work_of(client, record_id) == work_id, "the older id survives"
    moved = await client.get(f"/works/{alone}", params={"member": "HUE"}, follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == f"/works/{work_id}?member=HUE"
    body = (await client.get(f"/works/{alone}", follow_redirects=True)).json()
    assert body["work_id"] == work_id and body["holdings_count"] == 5
    assert [o["kind"] for o in body["overrides"]] == ["join"], "the newer decision replaced the split"

    assert (await client.delete(f"/admin/works/overrides/{join['id']}")).status_code == 204
    assert await work_of(client, record_id) == work_id, "its ISBN links it again"
    assert (await client.delete(f"/admin/works/overrides/{split['id']}")).status_code == 404
    bad = await client.post("/admin/works/join", json={"work_ids": [work_id]})
    assert bad.status_code == 422


async def test_cli_split_survives_rederive(
    client: httpx.AsyncClient, harvested: Harvested, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = await shared_records(client)
    record_id = next(rid for rid, code in held.items() if code == "VNUA")
    work_id = await work_of(client, record_id)
    monkeypatch.setenv("LIENHOP_HOME", str(harvested.settings.home))

    def lienhop(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args))
        assert result.exit_code == 0, result.output
        return result.stdout

    assert "kept apart" in await asyncio.to_thread(lienhop, "works", "split", record_id)
    await asyncio.to_thread(lienhop, "rederive", "VNUA", "HUE")
    alone = await work_of(client, record_id)
    assert alone != work_id
    shown = json.loads(await asyncio.to_thread(lienhop, "works", "show", alone, "--json"))
    assert shown["holdings_count"] == 1 and shown["overrides"][0]["kind"] == "split"
    assert shown == (await client.get(f"/works/{alone}")).json()
    joined = await asyncio.to_thread(lienhop, "works", "join", work_id, alone)
    assert f"both are now work {work_id}" in joined
    table = await asyncio.to_thread(lienhop, "works", "show", work_id)
    assert f"joined with {record_id}" in table and "isbn:" in table


async def test_the_work_page_lists_every_holder_and_why_each_record_joined(client: httpx.AsyncClient) -> None:
    held = await shared_records(client)
    work_id = await work_of(client, next(iter(held)))
    page = await client.get(f"/work/{work_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Có tại 5 thư viện" in page.text
    assert re.search(rf'<link rel="canonical" href="[^"]*/work/{work_id}">', page.text)
    for record_id in held:
        assert f'href="/record/{record_id}"' in page.text
    reason = f"gộp vì cùng ISBN {SHARED.isbn13}"
    assert page.text.count(reason) == 4, "each record but the first says why it joined"
    assert f"http://opac.tvu.example.vn/search?isbn={SHARED.isbn13}" in page.text
    # the results page links each hit to its work page
    results = await client.get("/", params={"q": f"isbn:{SHARED.isbn13}"})
    assert results.text.count(f'href="/work/{work_id}"') == 1
    assert (await client.get("/work/w999999")).status_code == 404

"""The HTTP API end to end over the demo consortium, harvested over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date
from typing import Any

import httpx
import pytest
from markupsafe import escape
from stdnum import isbn as stdisbn
from typer.testing import CliRunner

from app.cli import cli
from app.demo.generator import shared_works
from app.jobs import Job, JobRegistry
from schemas.settings import Settings
from search.analysis import fold, tokens
from tests.app.conftest import DEMO_CODES, LOOPBACK_CLIENT, Harvested

pytestmark = pytest.mark.asyncio

SHARED = shared_works()[0]  # a book held by five of the harvested members


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["store"]["ok"] and body["store"]["members"] >= len(DEMO_CODES)
    assert body["search"]["backend"] and body["search"]["documents"] > 0
    # the index follows works, whose change numbers come after their records' in the same sequence
    assert body["search"]["position"] >= body["store"]["max_seq"] and body["search"]["lag"] == 0


async def test_member_json_is_the_cli_json(
    client: httpx.AsyncClient, harvested: Harvested, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = await client.get("/members/NASATI")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"code", "status", "eligible_for_membership", "records", "last_harvest"}
    assert body["records"]["active"] > 0 and body["records"]["quarantined"] == 0
    assert body["last_harvest"]["ok"] is True and body["last_harvest"]["finished"]
    monkeypatch.setenv("LIENHOP_HOME", str(harvested.settings.home))
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["members", "show", "NASATI", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == body


async def test_observer_eligibility(client: httpx.AsyncClient) -> None:
    vass = (await client.get("/members/VASS")).json()
    nttu = (await client.get("/members/NTTU")).json()
    member = (await client.get("/members/HUE")).json()
    assert vass["status"] == nttu["status"] == "observer"
    assert date.fromisoformat(vass["eligible_for_membership"]) == date(2025, 9, 15)
    assert date.fromisoformat(nttu["eligible_for_membership"]) == date(2027, 6, 1)
    assert member["eligible_for_membership"] is None
    listed = (await client.get("/members")).json()
    assert {m["code"] for m in listed} >= set(DEMO_CODES)


async def test_unknown_member_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/members/NOPE")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "NOPE" in response.json()["detail"]


async def test_search_folds_vietnamese_diacritics(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "thu vien", "size": 50, "facets": "member,type"})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] > 0
    assert any("thư viện" in (h["title"] or "").lower() for h in body["hits"])
    assert {f["value"] for f in body["facets"]["member"]} <= set(DEMO_CODES)
    only = await client.get("/search", params={"q": "thu vien", "member": "HUE"})
    assert only.status_code == 200 and only.json()["hits"]
    assert all(h["holdings"][0]["code"] == "HUE" for h in only.json()["hits"]), "the filter's member first"
    suggest = await client.get("/autocomplete", params={"q": "thu", "field": "title"})
    assert suggest.status_code == 200
    titles = suggest.json()
    assert titles and len(titles) <= 10 and len(set(titles)) == len(titles), titles
    # each suggestion is a title with a word starting with what was typed, diacritics optional
    assert all(any(fold(w).startswith("thu") for w in tokens(t)) for t in titles), titles


async def test_bad_query_is_400_with_position(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": 'title:"unclosed'})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert isinstance(response.json()["position"], int)


async def test_hostile_nesting_is_a_400_and_reasonable_nesting_is_answered(client: httpx.AsyncClient) -> None:
    deep = await client.get("/search", params={"q": "(" * 498 + "thu" + ")" * 498})
    assert deep.status_code == 400 and "nested" in deep.json()["detail"]
    plain = (await client.get("/search", params={"q": "thu vien"})).json()["total"]
    nested = await client.get("/search", params={"q": "(" * 20 + "thu vien" + ")" * 20})
    assert nested.status_code == 200 and nested.json()["total"] == plain > 0
    twice = await client.get("/search", params={"q": "thu vien NOT (NOT (NOT zzzqqq))"})
    assert twice.status_code == 200 and twice.json()["total"] == plain


async def test_bad_parameter_is_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "x", "size": "many"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["invalid_params"][0]["parameter"] == "size"
    assert "size" in problem["detail"]
    sort = await client.get("/search", params={"sort": "random"})
    assert sort.status_code == 422 and "sort" in sort.json()["detail"]
    # The rules SearchRequest holds answer the same way, naming the query parameter.
    for params, name, needle in (
        ({"year_from": 2020, "year_to": 2010}, "year_to", "year_from (2020) is after year_to (2010)"),
        ({"facets": "member,colour"}, "facets", "unknown facet colour"),
        ({"year_from": 99999}, "year_from", "less than or equal to 9999"),
        ({"page": 0}, "page", "greater than or equal to 1"),
        ({"q": "x" * 1001}, "q", "1000 characters"),
    ):
        refused = await client.get("/search", params=params)
        assert refused.status_code == 422, params
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["invalid_params"] == [
            {"parameter": name, "in": "query", "message": problem["invalid_params"][0]["message"]}
        ]
        assert needle in problem["detail"], problem


async def test_record_page_lists_other_holders(client: httpx.AsyncClient) -> None:
    found = (await client.get("/lookup", params={"isbn": SHARED.isbn13})).json()
    record_id = next(
        m["records"][0]["record_id"] for m in found["works"][0]["holdings"] if m["code"] == "HUE"
    )
    response = await client.get(f"/records/{record_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["member"]["code"] == "HUE"
    assert body["opac_url"].startswith("http://opac.hue.example.vn/record/")
    others = {m["code"] for m in body["also_held_by"]}
    assert others == set(SHARED.holders) - {"HUE"}
    tvu = next(m for m in body["also_held_by"] if m["code"] == "TVU")
    assert tvu["holdings"][0]["opac_url"] == f"http://opac.tvu.example.vn/search?isbn={SHARED.isbn13}"
    raw = await client.get(f"/records/{record_id}/raw")
    assert raw.status_code == 200 and b"<" in raw.content
    page = await client.get(f"/record/{record_id}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "opac.tvu.example.vn" in page.text


async def test_lookup_isbn10_with_hyphens_finds_isbn13_holders(client: httpx.AsyncClient) -> None:
    typed = stdisbn.format(stdisbn.to_isbn10(SHARED.isbn13))  # e.g. 604-...-X, hyphenated ISBN-10
    response = await client.get("/lookup", params={"isbn": typed})
    assert response.status_code == 200
    body = response.json()
    assert body["normalised"] == SHARED.isbn13
    [work] = body["works"]  # one work, whichever ISBN form each member gave
    assert work["holdings_count"] == len(SHARED.holders) == 5 and work["title"].startswith(SHARED.title)
    holders = {m["code"]: m for m in work["holdings"]}
    assert set(holders) == set(SHARED.holders)
    assert all(m["name_vi"] and m["status"] in {"member", "observer"} for m in holders.values())
    assert holders["NASATI"]["records"][0]["opac_url"].startswith("http://opac.nasati.example.vn/record/")
    widget = (await client.get("/lookup", params={"isbn": typed, "member": "tvu"})).json()
    assert widget["works"][0]["holdings"][0]["code"] == "TVU", "the widget's member first"


async def test_lookup_rejects_bad_identifiers(client: httpx.AsyncClient) -> None:
    bad = await client.get("/lookup", params={"isbn": "978-604-000-000-1"})
    assert bad.status_code == 422 and "checksum" in bad.json()["detail"].lower()
    both = await client.get("/lookup", params={"isbn": SHARED.isbn13, "doi": "10.1/x"})
    assert both.status_code == 422
    doi = await client.get("/lookup", params={"doi": "not-a-doi"})
    assert doi.status_code == 422 and "DOI" in doi.json()["detail"]


async def test_lookup_by_title_groups_by_work(client: httpx.AsyncClient) -> None:
    response = await client.get("/lookup", params={"title": SHARED.title})
    assert response.status_code == 200
    works = response.json()["works"]
    assert len(works) == 1 and {m["code"] for m in works[0]["holdings"]} == set(SHARED.holders)
    with_subtitle = f"{SHARED.title} : {SHARED.subtitle}".upper()  # case and punctuation aside
    assert (await client.get("/lookup", params={"title": with_subtitle})).json()["works"] == works
    folded = await client.get("/lookup", params={"title": "thu vien so ly thuyet va thuc tien"})
    assert folded.json()["works"] == works, "diacritics optional"
    similar = await client.get("/lookup", params={"title": "Thư viện số"})
    assert SHARED.title not in [w["title"] for w in similar.json()["works"]], "a similar title is not it"


async def test_widget(client: httpx.AsyncClient) -> None:
    script = await client.get("/widget.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    assert "data-member" in script.text and "/lookup?" in script.text
    cors = await client.get(
        "/lookup", params={"isbn": SHARED.isbn13}, headers={"Origin": "http://opac.hue.example.vn"}
    )
    assert cors.headers["access-control-allow-origin"] == "*"
    box = await client.get("/widget/search", params={"member": "HUE", "q": "thu vien"})
    assert box.status_code == 200 and "text/html" in box.headers["content-type"]
    query = "forestry plantations acacia"
    fallback = await client.get("/widget/search", params={"member": "NTTU", "q": query})
    assert fallback.status_code == 200
    # NTTU holds none of it: the box says so and lists what the other members hold instead
    assert (await client.get("/search", params={"q": query, "member": "NTTU"})).json()["total"] == 0
    others = (await client.get("/search", params={"q": query})).json()["hits"]
    # one language per page: the Vietnamese box says so in Vietnamese only
    assert (
        others
        and "Không tìm thấy tại" in fallback.text
        and "Có tại các thư viện thành viên khác" in fallback.text
    )
    assert "Available at other members" not in fallback.text
    names = {m["code"]: m["member"]["name_vi"] for m in (await client.get("/members")).json()}
    for hit in others:  # each with its holders' names, not their codes
        item = (
            re.escape(str(escape(hit["title"])))
            + r"(?:(?!<li).)*</a> – "
            + re.escape(str(escape(names[hit["holdings"][0]["code"]])))
        )
        assert re.search(item, fallback.text, re.S), hit["title"]


async def test_search_page(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    assert home.status_code == 200 and "<form" in home.text
    page = await client.get("/", params={"q": "thu vien"})
    assert page.status_code == 200 and "<mark>" in page.text and "member=" in page.text
    bad = await client.get("/", params={"q": '"open'})
    assert bad.status_code == 400 and "ký tự thứ 1" in bad.text  # where it breaks, in the page's language


async def test_admin_token(settings: Settings) -> None:
    from app.main import create_app

    app = create_app(settings.model_copy(update={"admin_token": "s3cret"}))
    transport = httpx.ASGITransport(app=app, client=LOOPBACK_CLIENT)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        new = {"code": "TESTLIB", "name_vi": "Thư viện thử", "oai_url": "http://127.0.0.1:9/oai"}
        denied = await http.post("/admin/members", json=new)
        assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
        wrong = await http.post("/admin/members", json=new, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = await http.post("/admin/members", json=new, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 201 and ok.json()["code"] == "TESTLIB"
        again = await http.post("/admin/members", json=new, headers={"Authorization": "Bearer s3cret"})
        assert again.status_code == 409
        bad = await http.post(
                "/admin/members", json={**new, "code": "X2", "oai_url": "ftp://x"},
                headers={"Authorization": "Bearer s3cret"},
            )  # fmt: skip
        assert bad.status_code == 422 and "oai_url" in bad.json()["detail"]
        assert (await http.get("/admin/jobs")).status_code == 401


async def test_harvest_and_reindex_jobs(harvested: Harvested) -> None:
    from app.main import create_app

    app = create_app(harvested.settings)
    transport = httpx.ASGITransport(app=app, client=LOOPBACK_CLIENT)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        started = await http.post("/admin/harvest", json={"codes": ["HUE"], "full": True})
        assert started.status_code == 202
        job = await _wait(http, started.json()["id"])
        assert job["state"] == "done", job
        assert job["tasks"] and job["tasks"][0]["name"] == "HUE" and job["result"][0]["ok"]
        reindex = await http.post("/admin/reindex")
        assert reindex.status_code == 202
        job = await _wait(http, reindex.json()["id"])
        assert job["state"] == "done", job
        works, task = job["tasks"]  # re-clustering from the store first, then the rebuild
        assert works["name"] == "works" and task["name"] == "reindex" and task["done"] == task["total"] > 0
        assert job["result"]["records"] == task["total"] >= job["result"]["indexed"] > 0
        unknown = await http.post("/admin/harvest", json={"codes": ["NOPE"]})
        assert unknown.status_code == 404


async def test_records_a_repository_withdrew_leave_search_after_a_reconciling_harvest(
    app_client: httpx.AsyncClient,
) -> None:
    from datetime import UTC, datetime

    from tests.servers import serve_in_thread
    from tests.servers.faulty import FaultyProvider, vietnamese_records

    provider = FaultyProvider(records=vietnamese_records(12, datetime(2024, 1, 1, tzinfo=UTC)))
    provider.deleted_record = "no"
    provider.records[3].title = "Khảo sát rừng ngập mặn Cà Mau"
    with serve_in_thread(provider) as url:
        member = {"code": "TVU", "name_vi": "Trường Đại học Trà Vinh", "oai_url": url + "/oai"}
        assert (await app_client.post("/admin/members", json=member)).status_code == 201
        first = await app_client.post("/admin/harvest", json={"codes": ["TVU"]})
        assert (await _wait(app_client, first.json()["id"]))["state"] == "done"
        found = (await app_client.get("/search", params={"q": "rung ngap man ca mau"})).json()
        assert found["total"] == 1
        provider.records.pop(3)  # withdrawn without a deletion record
        again = await app_client.post("/admin/harvest", json={"codes": ["TVU"], "reconcile": True})
        job = await _wait(app_client, again.json()["id"])

    assert job["state"] == "done" and job["result"][0]["deleted"] == 1, job
    gone = (await app_client.get("/search", params={"q": "rung ngap man ca mau"})).json()
    assert gone["total"] == 0
    assert (await app_client.get("/search", params={"q": "nghien cuu"})).json()["total"] == 11


async def test_job_progress_visible_while_running(app_client: httpx.AsyncClient) -> None:
    jobs: JobRegistry = app_client.app.state.lienhop.jobs  # type: ignore[attr-defined]  # set by conftest
    release = asyncio.Event()

    async def work(job: Job) -> str:
        job.begin("NASATI", total=300)
        job.advance("NASATI", 100)
        await release.wait()
        job.advance("NASATI", 200)
        job.end("NASATI")
        return "finished"

    job = await jobs.start("harvest", work)
    for _ in range(200):  # admitted, then started once it holds the harvest slot
        if (await app_client.get(f"/admin/jobs/{job.id}")).json()["tasks"]:
            break
        await asyncio.sleep(0.02)
    running = (await app_client.get(f"/admin/jobs/{job.id}")).json()
    assert running["state"] == "running"
    assert running["tasks"] == [
        {"name": "NASATI", "state": "running", "done": 100, "total": 300, "message": ""}
    ]
    release.set()
    done = await _wait(app_client, job.id)
    assert done["state"] == "done" and done["tasks"][0]["done"] == 300 and done["result"] == "finished"
    assert (await app_client.get("/admin/jobs")).json()[0]["id"] == job.id
    assert (await app_client.get("/admin/jobs/none-1")).status_code == 404
    assert (await app_client.get("/admin/jobs/harvest-\u00b2")).status_code == 404  # a digit int() refuses


async def test_import_upload_job(app_client: httpx.AsyncClient) -> None:
    from pymarc import Field, Record, Subfield

    await app_client.post("/admin/members", json={"code": "UPLOAD", "name_vi": "Thư viện tải lên"})
    record = Record()
    record.add_field(Field(tag="001", data="u1"))
    record.add_field(Field(tag="245", indicators=["1", "0"], subfields=[Subfield("a", "Thư viện số")]))
    record.add_field(Field(tag="020", indicators=[" ", " "], subfields=[Subfield("a", SHARED.isbn13)]))
    files = {"file": ("books.mrc", record.as_marc(), "application/marc")}
    started = await app_client.post("/admin/import/UPLOAD", files=files)
    assert started.status_code == 202, started.text
    job = await _wait(app_client, started.json()["id"])
    assert job["state"] == "done", job
    assert job["result"]["added"] == 1
    found = (await app_client.get("/lookup", params={"isbn": SHARED.isbn13})).json()
    assert {m["code"] for m in found["works"][0]["holdings"]} == {"UPLOAD"}


async def _wait(http: httpx.AsyncClient, job_id: str, seconds: float = 30) -> dict[str, Any]:
    for _ in range(int(seconds / 0.05)):
        job: dict[str, Any] = (await http.get(f"/admin/jobs/{job_id}")).json()
        if job["state"] not in ("queued", "running"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} still running")

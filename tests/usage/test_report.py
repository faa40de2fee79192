"""The usage report through the admin API: figures checked against hand-computed totals, CSV, the page,
and credentials that no answer shows."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from .conftest import TOKEN
from .files import database_report

TIR, UIR = "Total_Item_Requests", "Unique_Item_Requests"


async def _import(api: httpx.AsyncClient, database: str, member: str, body: bytes) -> None:
    kind = "application/json" if body.lstrip().startswith(b"{") else "text/tab-separated-values"
    answer = await api.post(
        f"/admin/usage/import/{database}/{member}", content=body, headers={"Content-Type": kind}
    )
    assert answer.status_code == 200, answer.text


async def _consortium(api: httpx.AsyncClient) -> None:
    """Two databases, two members, two years; every figure below is derived by hand in the test."""
    for code, name in (("SD", "ScienceDirect"), ("EB", "EBSCO")):
        added = await api.post(
            "/admin/usage/databases",
            json={"code": code, "name": name, "sushi_url": f"https://sushi.example.org/{code}",
                  "cost": {"year": 2023, "amount": "990" if code == "SD" else "110", "currency": "USD"}},
        )  # fmt: skip
        assert added.status_code == 201, added.text
    set_cost = await api.put(
        "/admin/usage/databases/SD/costs", json={"year": 2022, "amount": 600, "currency": "usd"}
    )
    assert set_cost.status_code == 200 and [c["year"] for c in set_cost.json()["costs"]] == [2022, 2023]
    # NASATI, SD, 2023: Regular requests 100/200/300 (the TDM row is no download)
    await _import(api, "SD", "NASATI", database_report("DR", 2023, 3, [
        ("Physics", "Regular", TIR, [60, 150, 300]), ("Chemistry", "Regular", TIR, [40, 50, 0]),
        ("Physics", "Regular", UIR, [50, 100, 150]), ("Physics", "TDM", TIR, [333, 333, 333]),
    ]))  # fmt: skip
    # NASATI, EB, February 2023: 10
    await _import(api, "EB", "NASATI", database_report("DR", 2023, 2, [
        ("Academic Search", "Regular", TIR, [0, 10]), ("Academic Search", "Regular", UIR, [0, 10]),
    ]))  # fmt: skip
    # VNU, SD: a DR_D1 view for January-February (40, 50), and a DR for January (45): the DR wins
    await _import(api, "SD", "VNU", database_report("DR_D1", 2023, 2, [
        ("Physics", "", TIR, [40, 50]), ("Physics", "", UIR, [20, 25]),
    ]))  # fmt: skip
    await _import(api, "SD", "VNU", database_report("DR", 2023, 1, [
        ("Physics", "Regular", TIR, [45]), ("Physics", "Regular", UIR, [22]),
    ]))  # fmt: skip
    # NASATI, SD, 2022: 50 a month for four months
    await _import(
        api, "SD", "NASATI", database_report("DR", 2022, 4, [("Physics", "Regular", TIR, [50] * 4)])
    )


@pytest.mark.asyncio
async def test_report_figures(api: httpx.AsyncClient) -> None:
    await _consortium(api)
    report = (await api.get("/admin/usage/report", params={"year": 2023})).json()

    # NASATI 100+200+300 (SD) + 10 (EB) = 610; VNU 45 (DR, January) + 50 (DR_D1, February) = 95
    assert report["total_item_requests"] == 705
    assert report["unique_item_requests"] == 300 + 10 + 22 + 25
    assert report["months_with_data"] == 3
    assert report["monthly_average"] == 235.0  # 705 / 3
    assert report["months"] == {
        "2023-01": {"total_item_requests": 145, "unique_item_requests": 72},
        "2023-02": {"total_item_requests": 260, "unique_item_requests": 135},
        "2023-03": {"total_item_requests": 300, "unique_item_requests": 150},
    }
    # 2022: 200 over 4 months = 50 a month; 235 / 50 - 1 = 3.7
    assert report["previous_year"]["monthly_average"] == 50.0
    assert report["change_monthly_average"] == 3.7
    assert report["change_total"] == round(705 / 200 - 1, 4)
    # costs 990 + 110 USD over 705 requests
    assert (report["cost"], report["currency"]) == (1100.0, "USD")
    assert report["cost_per_download"] == round(1100 / 705, 4)
    databases = {d["code"]: d for d in report["databases"]}
    assert databases["SD"]["total_item_requests"] == 695
    assert databases["SD"]["cost_per_download"] == round(990 / 695, 4)
    assert databases["EB"]["cost_per_download"] == 11.0
    members = report["members"]
    assert [(m["rank"], m["code"], m["total_item_requests"]) for m in members] == [
        (1, "NASATI", 610),
        (2, "VNU", 95),
    ]
    assert members[0]["months"] == {"2023-01": 100, "2023-02": 210, "2023-03": 300}
    assert members[1]["months"] == {"2023-01": 45, "2023-02": 50}
    # the cost shared out by use: NASATI 990 x 600/695 + 110 x 10/10, VNU 990 x 95/695
    assert members[0]["cost_share"] == round(990 * 600 / 695 + 110, 2)
    assert members[1]["cost_share"] == round(990 * 95 / 695, 2)
    assert members[0]["share"] == round(610 / 705, 4)
    vnu = [(r["database"], r["month"], r["report_id"]) for r in report["rows"] if r["member"] == "VNU"]
    assert vnu == [("SD", "2023-01", "DR"), ("SD", "2023-02", "DR_D1")]

    one = (await api.get("/admin/usage/report", params={"year": 2023, "member": "vnu"})).json()
    assert (one["total_item_requests"], one["cost"], one["members"][0]["rank"]) == (
        95,
        round(990 * 95 / 695, 2),
        2,
    )
    eb = (await api.get("/admin/usage/report", params={"year": 2023, "database": "EB"})).json()
    assert (eb["total_item_requests"], eb["cost_per_download"], len(eb["members"])) == (10, 11.0, 1)
    latest = (await api.get("/admin/usage/report")).json()
    assert latest["year"] == 2023  # the latest year with data


@pytest.mark.asyncio
async def test_report_as_csv_and_page(api: httpx.AsyncClient) -> None:
    await _consortium(api)
    answer = await api.get("/admin/usage/report", params={"year": 2023, "format": "csv"})
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    nasati = [r for r in rows if r["member"] == "NASATI"]
    assert sum(int(r["total_item_requests"]) for r in nasati) == 610
    assert [r["total_item_requests"] for r in rows if r["member"] == "*"] == ["145", "260", "300"]

    vi = await api.get("/admin/usage/report/page", params={"year": 2023})
    en = await api.get("/admin/usage/report/page", params={"year": 2023, "lang": "en"})
    assert vi.status_code == en.status_code == 200
    assert '<html lang="vi">' in vi.text and "Lượt tải theo tháng" in vi.text
    assert (
        '<html lang="en">' in en.text
        and "Downloads per month" in en.text
        and "Members ranked by use" in en.text
    )
    for page in (vi, en):
        assert "<svg" in page.text and page.text.count("<rect") == 12
        assert "2023-02: 260" in page.text  # the bar's tooltip
        assert "705" in page.text
    empty = await api.get("/admin/usage/report/page", params={"year": 2001, "lang": "en"})
    assert "No usage data for this year yet." in empty.text


@pytest.mark.asyncio
async def test_credentials_are_never_shown(api: httpx.AsyncClient) -> None:
    await api.post(
        "/admin/usage/databases", json={"code": "SD", "name": "SD", "sushi_url": "https://s.example.org/r5"}
    )
    secret = {"customer_id": "cust-8891", "requestor_id": "req-7716", "api_key": "key-5521"}
    saved = await api.put("/admin/usage/databases/SD/credentials/NASATI", json=secret)
    assert saved.status_code == 200
    assert saved.json() | {"updated": None} == {
        "database": "SD", "member": "NASATI", "has_customer_id": True, "has_requestor_id": True,
        "has_api_key": True, "updated": None,
    }  # fmt: skip
    answers = [
        saved,
        await api.get("/admin/usage/databases/SD/credentials"),
        await api.get("/admin/usage/databases"),
        await api.get("/admin/usage/databases/SD"),
        await api.put("/admin/usage/databases/SD/credentials/NOPE", json=secret),
        await api.put("/admin/usage/databases/SD/credentials/NASATI", json={**secret, "customer_id": 5}),
    ]
    assert answers[-2].status_code == 404 and answers[-1].status_code == 422
    for answer in answers:
        assert not any(value in answer.text for value in secret.values()), answer.text
    assert answers[2].json()[0]["members"] == ["NASATI"]


@pytest.mark.asyncio
async def test_admin_token_and_validation(api: httpx.AsyncClient) -> None:
    anonymous = await api.get("/admin/usage/report", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert (await api.get("/admin/usage/report/page", headers={"Authorization": ""})).status_code == 401
    bad_url = await api.post(
        "/admin/usage/databases", json={"code": "X", "name": "X", "sushi_url": "ftp://x.org"}
    )
    assert bad_url.status_code == 422 and "http" in bad_url.text
    leaky = {"code": "X", "name": "X", "sushi_url": "https://user:pw@x.org/r5"}
    assert (await api.post("/admin/usage/databases", json=leaky)).status_code == 422
    ok = {"code": "X", "name": "X", "sushi_url": "https://x.org/r5/"}
    assert (await api.post("/admin/usage/databases", json=ok)).json()["sushi_url"] == "https://x.org/r5"
    assert (await api.post("/admin/usage/databases", json=ok)).status_code == 409
    unknown = await api.post("/admin/usage/databases", json={**ok, "code": "Y", "reports": ["JR1"]})
    assert unknown.status_code == 422 and "JR1" in unknown.text
    cost = await api.put(
        "/admin/usage/databases/X/costs", json={"year": 2023, "amount": 5, "currency": "dollars"}
    )
    assert cost.status_code == 422
    month = await api.post("/admin/usage/harvest", json={"from": "2024-13"})
    assert month.status_code == 422 and "YYYY-MM" in month.text
    assert TOKEN

"""Lienhop as a COUNTER platform: ``/sushi/r5`` answers valid COUNTER_SUSHI5 JSON (checked against
COUNTER's own schema, ``usage/schemas/COUNTER_SUSHI5_0.json``), its PR reads back with our COUNTER
reader, and a bad request gets the COUNTER exception for it. A client that is not ours reads it back
over HTTP in ``test_counter_client.py``."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from usage.counter import read_report
from usage.events import UsageRecorder

from .conftest import TOKEN

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "usage" / "schemas" / "COUNTER_SUSHI5_0.json").read_text()
)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def valid(document: Any, definition: str, many: bool = False) -> None:
    """Raise unless ``document`` is a valid ``definition`` of the COUNTER_SUSHI5 schema (or a list)."""
    ref = {"$ref": f"#/definitions/{definition}"}
    schema = {"definitions": SCHEMA["definitions"], **({"type": "array", "items": ref} if many else ref)}
    jsonschema.Draft4Validator(schema).validate(document)


async def _usage(api: httpx.AsyncClient) -> None:
    """NASATI's use in January and March 2025 (two sessions), HUE's in February."""
    app = api._transport.app  # type: ignore[attr-defined]
    recorder: UsageRecorder = app.state.usage_recorder
    jan, feb, mar = (datetime(2025, m, 10, 9, 0, tzinfo=UTC) for m in (1, 2, 3))
    for at, member, client in (
        (jan, "NASATI", "a"),
        (jan, "NASATI", "b"),
        (mar, "NASATI", "a"),
        (feb, "HUE", "a"),
    ):
        recorder.record("search", "page", client=client, user_agent=BROWSER, member=member, at=at, key="q=1")
        recorder.record(
            "view", "page", client=client, user_agent=BROWSER, member=member, at=at, item="nasati-1"
        )
        recorder.record("request", "widget", client=client, user_agent=BROWSER, member=member, at=at,
                        item="nasati-1")  # fmt: skip
    recorder.record("lookup", "widget", client="c", user_agent=BROWSER, member="NASATI", at=jan, key="isbn=1")
    await recorder.flush()


def _params(**given: str) -> dict[str, str]:
    return {
        "api_key": TOKEN,
        "customer_id": "NASATI",
        "begin_date": "2025-01",
        "end_date": "2025-03",
        **given,
    }


@pytest.mark.asyncio
async def test_pr_is_valid_counter_json_and_reads_back(api: httpx.AsyncClient) -> None:
    await _usage(api)
    answer = await api.get("/sushi/r5/reports/pr", params=_params())
    assert answer.status_code == 200
    report = answer.json()
    valid(report, "COUNTER_platform_report")
    header = report["Report_Header"]
    assert (header["Report_ID"], header["Release"], header["Customer_ID"]) == ("PR", "5", "NASATI")
    assert header["Report_Filters"][:2] == [
        {"Name": "Begin_Date", "Value": "2025-01-01"},
        {"Name": "End_Date", "Value": "2025-03-31"},
    ]
    assert "Exceptions" not in header
    [item] = report["Report_Items"]
    months = {p["Period"]["Begin_Date"]: {i["Metric_Type"]: i["Count"] for i in p["Instance"]}
              for p in item["Performance"]}  # fmt: skip
    assert months == {
        "2025-01-01": {"Searches_Platform": 3, "Total_Item_Investigations": 4, "Total_Item_Requests": 2,
                       "Unique_Item_Investigations": 2, "Unique_Item_Requests": 2},
        "2025-03-01": {"Searches_Platform": 1, "Total_Item_Investigations": 2, "Total_Item_Requests": 1,
                       "Unique_Item_Investigations": 1, "Unique_Item_Requests": 1},
    }  # fmt: skip  # February was HUE's, and a month without usage is left out

    read = read_report(answer.content)  # the usage package's own COUNTER reader
    assert (read.report_id, read.release, read.begin, read.end) == (
        "PR",
        "5",
        date(2025, 1, 1),
        date(2025, 3, 31),
    )
    back = {(r.month.isoformat(), r.metric): r.count for r in read.rows}
    assert back == {(m, metric): n for m, cell in months.items() for metric, n in cell.items()}
    assert {r.title for r in read.rows} == {"Lienhop"}


@pytest.mark.asyncio
async def test_pr_p1_and_the_report_attributes(api: httpx.AsyncClient) -> None:
    await _usage(api)
    p1 = (await api.get("/sushi/r5/reports/pr_p1", params=_params())).json()
    valid(p1, "COUNTER_platform_report")
    assert p1["Report_Header"]["Report_ID"] == "PR_P1"
    assert {"Name": "Access_Method", "Value": "Regular"} in p1["Report_Header"]["Report_Filters"]
    [item] = p1["Report_Items"]
    assert item["Access_Method"] == "Regular"
    metrics = {i["Metric_Type"] for p in item["Performance"] for i in p["Instance"]}
    assert metrics == {"Searches_Platform", "Total_Item_Requests", "Unique_Item_Requests"}

    asked = _params(attributes_to_show="Data_Type|Access_Method", granularity="Totals")
    shown = (await api.get("/sushi/r5/reports/pr", params=asked)).json()
    valid(shown, "COUNTER_platform_report")
    [item] = shown["Report_Items"]
    assert (item["Data_Type"], item["Access_Method"]) == ("Other", "Regular")
    [total] = item["Performance"]
    assert total["Period"] == {"Begin_Date": "2025-01-01", "End_Date": "2025-03-31"}
    assert {i["Metric_Type"]: i["Count"] for i in total["Instance"]}["Searches_Platform"] == 4

    only = (await api.get("/sushi/r5/reports/pr", params=_params(metric_type="Total_Item_Requests"))).json()
    assert {i["Metric_Type"] for p in only["Report_Items"][0]["Performance"] for i in p["Instance"]} == {
        "Total_Item_Requests"
    }


@pytest.mark.asyncio
async def test_status_members_and_reports_are_valid(api: httpx.AsyncClient) -> None:
    status = (await api.get("/sushi/r5/status", params={"api_key": TOKEN})).json()
    valid(status, "SUSHI_service_status", many=True)
    assert status[0]["Service_Active"] is True
    members = (await api.get("/sushi/r5/members", params={"api_key": TOKEN})).json()
    valid(members, "SUSHI_consortium_member_list", many=True)
    assert "NASATI" in {m["Customer_ID"] for m in members}
    reports = (await api.get("/sushi/r5/reports", params={"api_key": TOKEN})).json()
    valid(reports, "SUSHI_report_list", many=True)
    assert [(r["Report_ID"], r["Path"]) for r in reports] == [
        ("PR", "/sushi/r5/reports/pr"), ("PR_P1", "/sushi/r5/reports/pr_p1")
    ]  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"api_key": TOKEN, "begin_date": "2025-01", "end_date": "2025-03"}, 400, 1030),  # no customer_id
        (_params(begin_date=""), 400, 1030),
        (_params(begin_date="2025-13"), 400, 3020),
        (_params(begin_date="2025-02-30"), 400, 3020),
        (_params(begin_date="2025-04", end_date="2025-03"), 400, 3020),
        (_params(api_key="wrong"), 401, 2020),
        ({k: v for k, v in _params().items() if k != "api_key"}, 401, 2000),
        (_params(customer_id="NOBODY"), 403, 2010),
    ],
)
async def test_bad_requests_get_the_counter_exception(
    api: httpx.AsyncClient, params: dict[str, str], status: int, code: int
) -> None:
    answer = await api.get("/sushi/r5/reports/pr", params=params)
    assert answer.status_code == status
    valid(answer.json(), "SUSHI_error_model")
    assert answer.json()["Code"] == code
    assert [e.code for e in read_report(answer.content).exceptions] == [code]


@pytest.mark.asyncio
async def test_no_usage_unknown_parameters_and_months_not_over(api: httpx.AsyncClient) -> None:
    await _usage(api)
    empty = (await api.get("/sushi/r5/reports/pr", params=_params(customer_id="VNU", foo="1"))).json()
    valid(empty, "COUNTER_platform_report")
    assert empty["Report_Items"] == []
    assert [e["Code"] for e in empty["Report_Header"]["Exceptions"]] == [3050, 3030]
    assert read_report(json.dumps(empty).encode()).rows == []

    this_month = datetime.now(UTC).date().replace(day=1)
    asked = _params(begin_date="2025-01", end_date=this_month.isoformat())
    current = (await api.get("/sushi/r5/reports/pr", params=asked)).json()
    valid(current, "COUNTER_platform_report")
    codes = [e["Code"] for e in current["Report_Header"]["Exceptions"]]
    assert codes == [3031]  # reported up to the end of last month, with the usage there is
    assert current["Report_Items"][0]["Performance"]

"""A COUNTER R5 / R5.1 SUSHI server for the tests, served on loopback by uvicorn.

Written after the COUNTER Code of Practice (R5 section 8 and the COUNTER_SUSHI5 API; R5.1 section 8)
and the shape of real answers (the pycounter samples in the shared fixtures): ``/status``,
``/reports/{dr,dr_d1,tr,tr_j1,tr_b1,pr,pr_p1}`` with ``customer_id``, ``requestor_id``, ``api_key``,
``begin_date``, ``end_date``. What a customer gets depends on its ``customer_id``:

=================  =============================================================================
LIB-A, LIB-B, ...  usage: ``usage[customer_id]["YYYY-MM"]`` downloads, split over two databases
LIB-QUEUED-ONCE    1011 (queued) on the first request for a report and month, then the usage
LIB-QUEUED         1011 on every request
LIB-EMPTY          3030 (no usage available for the requested dates)
LIB-LATE           the usage, except 3031 (not yet available) for ``late_month``
LIB-2000           2000 (requestor not authorised)
LIB-2010           2010 (requestor not authorised to access the customer's usage)
LIB-KEY            2020 (invalid API key) unless ``api_key`` is ``expected_key``
LIB-SLOW           answers after ``slow_seconds``
LIB-HUGE           a body of ``huge_bytes``
LIB-AWAY           a redirect to another host
=================  =============================================================================

R5 answers put exceptions in the Report_Header (HTTP 200), as the pycounter ``not_authorized.json``
sample does; R5.1 answers send an error as a bare exception object with the HTTP status R5.1 gives it.
Each item also carries counts Lienhop must not take for downloads: a TDM row (Access_Method TDM),
searches and investigations.
"""

from __future__ import annotations

import asyncio
import calendar
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

TDM_REQUESTS = 1000  # text and data mining requests in every DR and PR: never downloads
DATABASES = (("Loopback Physics Collection", 2), ("Loopback Chemistry Collection", 1))  # (name, weight)


@dataclass
class Behaviour:
    release: str = "5"
    usage: dict[str, dict[str, int]] = field(default_factory=dict)
    late_month: str = ""
    expected_key: str = "s3cret-key-42"
    slow_seconds: float = 3.0
    huge_bytes: int = 200_000
    calls: list[dict[str, str]] = field(default_factory=list)
    seen: set[tuple[str, str, str]] = field(default_factory=set)


_EXCEPTIONS = {
    1011: ("Report Queued for Processing", 202),
    2000: ("Requestor Not Authorized to Access Service", 401),
    2010: ("Requestor is Not Authorized to Access Usage for Institution", 403),
    2020: ("API Key Invalid", 401),
    3030: ("No Usage Available for Requested Dates", 200),
    3031: ("Usage Not Ready for Requested Dates", 200),
}


def split(total: int) -> list[tuple[str, int, int]]:
    """A month's downloads shared over the two databases: (name, total, unique = half)."""
    first = total * 2 // 3
    return [(DATABASES[0][0], first, first // 2), (DATABASES[1][0], total - first, (total - first) // 2)]


def make_app(behaviour: Behaviour) -> FastAPI:
    app = FastAPI()

    @app.get("/status")
    async def status() -> Any:
        return [{"Service_Active": True, "Description": "Loopback SUSHI", "Registry_Record": ""}]

    @app.get("/reports/{report}")
    async def report(report: str, request: Request) -> Response:
        params = dict(request.query_params)
        behaviour.calls.append({"report": report, **params})
        customer = params.get("customer_id", "")
        begin = date.fromisoformat(
            params["begin_date"][:10] if len(params["begin_date"]) > 7 else params["begin_date"] + "-01"
        )
        month = f"{begin.year:04d}-{begin.month:02d}"
        report_id = report.upper()
        if customer == "LIB-SLOW":
            await asyncio.sleep(behaviour.slow_seconds)
        if customer == "LIB-HUGE":
            return PlainTextResponse("x" * behaviour.huge_bytes)
        if customer == "LIB-AWAY":
            return RedirectResponse(
                f"http://localhost:9/reports/{report}?{request.url.query}", status_code=302
            )
        code = _exception_for(behaviour, customer, params, report_id, month)
        if code is not None:
            return _exception(behaviour.release, report_id, customer, begin, code)
        total = behaviour.usage.get(customer, {}).get(month, 0)
        body = (report_r51 if behaviour.release == "5.1" else report_r50)(report_id, customer, begin, total)
        return JSONResponse(body)

    return app


def _exception_for(
    b: Behaviour, customer: str, params: dict[str, str], report_id: str, month: str
) -> int | None:
    if customer == "LIB-QUEUED":
        return 1011
    if customer == "LIB-QUEUED-ONCE" and (customer, report_id, month) not in b.seen:
        b.seen.add((customer, report_id, month))
        return 1011
    if customer == "LIB-EMPTY":
        return 3030
    if customer == "LIB-LATE" and month == b.late_month:
        return 3031
    if customer in {"LIB-2000", "LIB-2010"}:
        return int(customer[-4:])
    if customer == "LIB-KEY" and params.get("api_key") != b.expected_key:
        return 2020
    return None


def _period(begin: date) -> tuple[str, str]:
    last = calendar.monthrange(begin.year, begin.month)[1]
    return begin.isoformat(), begin.replace(day=last).isoformat()


def _exception(release: str, report_id: str, customer: str, begin: date, code: int) -> Response:
    message, status = _EXCEPTIONS[code]
    start, end = _period(begin)
    if release == "5.1":
        exc = {"Code": code, "Message": message, "Data": f"{start} to {end}"}
        if code in {3030, 3031}:
            return JSONResponse(
                {"Report_Header": _header51(report_id, customer, start, end, [exc]), "Report_Items": []}
            )
        return JSONResponse(exc, status_code=status)
    severity = "Warning" if code in {1011} else "Error"
    exc = {"Code": code, "Severity": severity, "Message": message, "Data": f"{start} to {end}"}
    return JSONResponse({"Report_Header": _header50(report_id, customer, start, end, [exc])})


def _header50(report_id: str, customer: str, start: str, end: str, exceptions: list[Any]) -> dict[str, Any]:
    header: dict[str, Any] = {
        "Created": "2026-12-05T08:00:00Z", "Created_By": "Loopback Vendor", "Customer_ID": customer,
        "Report_ID": report_id, "Release": "5", "Report_Name": f"{report_id} report",
        "Institution_Name": f"Library {customer}",
        "Report_Filters": [{"Name": "Begin_Date", "Value": start}, {"Name": "End_Date", "Value": end}],
    }  # fmt: skip
    if exceptions:
        header["Exceptions"] = exceptions
    return header


def _header51(report_id: str, customer: str, start: str, end: str, exceptions: list[Any]) -> dict[str, Any]:
    header: dict[str, Any] = {
        "Report_Name": f"{report_id} report", "Report_ID": report_id, "Release": "5.1",
        "Institution_Name": f"Library {customer}", "Institution_ID": {"Proprietary": [f"LB:{customer}"]},
        "Report_Filters": {"Begin_Date": start, "End_Date": end},
        "Created": "2026-12-05T08:00:00Z", "Created_By": "Loopback Vendor",
        "Registry_Record": "https://registry.countermetrics.org/platform/loopback",
    }  # fmt: skip
    if exceptions:
        header["Exceptions"] = exceptions
    return header


def _metrics(report_id: str, total: int, unique: int) -> dict[str, int]:
    if report_id.startswith("DR"):
        return {"Searches_Regular": total * 3, "Total_Item_Investigations": total * 2,
                "Total_Item_Requests": total, "Unique_Item_Requests": unique}  # fmt: skip
    return {
        "Total_Item_Investigations": total * 2,
        "Total_Item_Requests": total,
        "Unique_Item_Requests": unique,
    }


def _items(report_id: str, total: int) -> list[tuple[dict[str, Any], dict[str, str], dict[str, int]]]:
    """(identity, attributes, metrics) per item of the report."""
    family = report_id[:2]
    found: list[tuple[dict[str, Any], dict[str, str], dict[str, int]]] = []
    if family == "DR":
        for name, count, unique in split(total):
            found.append(({"Database": name}, {"Data_Type": "Database", "Access_Method": "Regular"},
                          _metrics(report_id, count, unique)))  # fmt: skip
        if report_id == "DR" and total:
            found.append(({"Database": DATABASES[0][0]}, {"Data_Type": "Database", "Access_Method": "TDM"},
                          {"Total_Item_Requests": TDM_REQUESTS}))  # fmt: skip
    elif family == "TR":
        # the same requests again, per journal: counted by Lienhop only in the TR
        for index, (_, count, unique) in enumerate(split(total)):
            identity = {
                "Title": f"Loopback Journal {index + 1}",
                "Item_ID": {"Online_ISSN": f"1234-567{index}"},
            }
            attributes = {"Data_Type": "Journal", "Access_Type": "Controlled", "Access_Method": "Regular"}
            found.append((identity, {**attributes, "YOP": "2020"}, _metrics(report_id, count, unique)))
    else:
        found.append(({"Platform": "Loopback"}, {"Data_Type": "Database", "Access_Method": "Regular"},
                      _metrics(report_id, total, total // 2)))  # fmt: skip
    return [f for f in found if any(f[2].values())]


def report_r50(report_id: str, customer: str, begin: date, total: int) -> dict[str, Any]:
    start, end = _period(begin)
    items = []
    for identity, attributes, metrics in _items(report_id, total):
        ids = identity.pop("Item_ID", {})
        items.append({
            **identity, "Platform": "Loopback", "Publisher": "Loopback Publisher",
            "Item_ID": [{"Type": k, "Value": v} for k, v in ids.items()], **attributes,
            "Performance": [{"Period": {"Begin_Date": start, "End_Date": end},
                             "Instance": [{"Metric_Type": m, "Count": c} for m, c in metrics.items()]}],
        })  # fmt: skip
    exceptions = (
        []
        if items
        else [{"Code": 3030, "Severity": "Error", "Message": "No Usage Available for Requested Dates"}]
    )
    return {"Report_Header": _header50(report_id, customer, start, end, exceptions), "Report_Items": items}


def report_r51(report_id: str, customer: str, begin: date, total: int) -> dict[str, Any]:
    start, end = _period(begin)
    month = start[:7]
    items = []
    for identity, attributes, metrics in _items(report_id, total):
        performance = {m: {month: c} for m, c in metrics.items()}
        items.append({**identity, "Platform": "Loopback", "Publisher": "Loopback Publisher",
                      "Attribute_Performance": [{**attributes, "Performance": performance}]})  # fmt: skip
    exceptions = [] if items else [{"Code": 3030, "Message": "No Usage Available for Requested Dates"}]
    return {"Report_Header": _header51(report_id, customer, start, end, exceptions), "Report_Items": items}

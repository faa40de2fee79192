"""Lienhop as a COUNTER platform: its own usage as the R5 Platform Report (PR) and its Platform Usage
view (PR_P1), with the SUSHI exceptions for what a request gets wrong.

Written after the COUNTER Code of Practice R5.0 (section 4.1, the Platform Reports; section 8, the
COUNTER_SUSHI API; Appendix F, the exceptions) and checked against the COUNTER_SUSHI5 schema kept in
``usage/schemas/`` (tests/usage/test_sushi_endpoint.py). Pure: the route reads the counts
(:func:`usage.own.monthly_counts`) and hands them here.

Lienhop counts no Data_Type of its own (a record may be a book, an article, a thesis): with
``attributes_to_show=Data_Type`` every item is ``Other``. ``Unique_Title_*`` are not counted.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .own import PR_METRICS, PR_P1_METRICS

PLATFORM = "Lienhop"
CREATED_BY = "Lienhop (Vietnam Library Consortium on S&T information)"
REPORTS = {
    "PR": ("Platform Master Report", "Usage by platform, with Data_Type and Access_Method on request"),
    "PR_P1": ("Platform Usage", "Platform-level searches and requests (Regular access)"),
}
#: Appendix F: code -> (message, severity, HTTP status when it is the whole answer)
EXCEPTIONS = {
    1030: ("Insufficient Information to Process Request", "Fatal", 400),
    2000: ("Requestor Not Authorized to Access Service", "Error", 401),
    2010: ("Requestor is Not Authorized to Access Usage for Institution", "Error", 403),
    2020: ("APIKey Invalid", "Error", 401),
    3000: ("Report Not Supported", "Error", 404),
    3020: ("Invalid Date Arguments", "Error", 400),
    3030: ("No Usage Available for Requested Dates", "Error", 200),
    3031: ("Usage Not Ready for Requested Dates", "Warning", 200),
    3050: ("Parameter Not Recognized in this Context", "Warning", 200),
    3060: ("Invalid ReportFilter Value", "Warning", 200),
    3062: ("Invalid ReportAttribute Value", "Warning", 200),
}
#: Query parameters of a report request (section 8 of the Code of Practice).
KNOWN_PARAMETERS = frozenset(
    {"customer_id", "requestor_id", "api_key", "platform", "begin_date", "end_date", "metric_type",
     "data_type", "access_method", "attributes_to_show", "granularity"}
)  # fmt: skip
DATA_TYPE = "Other"
_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def sushi_exception(code: int, data: str = "") -> dict[str, Any]:
    message, severity, _ = EXCEPTIONS[code]
    found: dict[str, Any] = {"Code": code, "Severity": severity, "Message": message}
    if data:
        found["Data"] = data
    return found


def exception_status(code: int) -> int:
    return EXCEPTIONS[code][2]


class SushiRefusal(Exception):
    """A request answered by an exception alone (no report), with its HTTP status."""

    def __init__(self, code: int, data: str = "") -> None:
        super().__init__(f"{code}: {EXCEPTIONS[code][0]} ({data})")
        self.code = code
        self.body = sushi_exception(code, data)
        self.status = exception_status(code)


def parse_date(text: str, end: bool) -> date:
    """``YYYY-MM`` or ``YYYY-MM-DD`` as the first (or, for ``end``, the last) day of its month."""
    match = _DATE.match(text.strip())
    if not match:
        raise SushiRefusal(3020, f"{text!r} is not a date (yyyy-mm-dd or yyyy-mm)")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12 or not 1 <= int(match[3] or 1) <= calendar.monthrange(year, month)[1]:
        raise SushiRefusal(3020, f"{text!r} is not a date")
    return date(year, month, calendar.monthrange(year, month)[1] if end else 1)


@dataclass
class PlatformRequest:
    """A checked report request: whose usage, which months, which metrics and attributes."""

    report_id: str
    customer_id: str
    institution: str
    begin: date
    end: date
    metrics: tuple[str, ...]
    attributes: tuple[str, ...] = ()
    granularity: str = "Month"
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    filters: list[dict[str, str]] = field(default_factory=list)


def check_request(report_id: str, params: dict[str, str], institution: str, today: date) -> PlatformRequest:
    """The request's parameters checked, in the order COUNTER's exceptions rank them."""
    missing = [p for p in ("customer_id", "begin_date", "end_date") if not params.get(p, "").strip()]
    if missing:
        raise SushiRefusal(1030, f"missing: {', '.join(missing)}")
    begin, end = parse_date(params["begin_date"], False), parse_date(params["end_date"], True)
    if begin > end:
        raise SushiRefusal(3020, f"begin_date {params['begin_date']} is after end_date {params['end_date']}")
    exceptions: list[dict[str, Any]] = []
    unknown = sorted(set(params) - KNOWN_PARAMETERS)
    if unknown:
        exceptions.append(sushi_exception(3050, ", ".join(unknown)))
    this_month = today.replace(day=1)
    if end >= this_month:  # a month is reported once it is over
        exceptions.append(sushi_exception(3031, "usage is reported up to the end of the previous month"))
        end = this_month - timedelta(days=1)
    allowed: tuple[str, ...] = PR_METRICS if report_id == "PR" else PR_P1_METRICS
    metrics: tuple[str, ...] = allowed
    if given := params.get("metric_type", "").strip():
        asked = tuple(m for m in given.split("|") if m)
        wrong = [m for m in asked if m not in allowed]
        if wrong:
            exceptions.append(sushi_exception(3060, f"metric_type {'|'.join(wrong)}"))
        metrics = tuple(m for m in allowed if m in asked) or allowed
    attributes: tuple[str, ...] = ()
    if report_id == "PR" and (given := params.get("attributes_to_show", "").strip()):
        asked = tuple(a for a in given.split("|") if a)
        wrong = [a for a in asked if a not in ("Data_Type", "Access_Method")]
        if wrong:
            exceptions.append(sushi_exception(3062, f"attributes_to_show {'|'.join(wrong)}"))
        attributes = tuple(a for a in ("Data_Type", "Access_Method") if a in asked)
    for name, value in (("data_type", DATA_TYPE), ("access_method", "Regular")):
        if (given := params.get(name, "").strip()) and value not in given.split("|"):
            metrics = ()  # a filter that leaves nothing: the report is empty (3030 below)
    granularity = "Totals" if params.get("granularity", "").strip().lower() == "totals" else "Month"
    request = PlatformRequest(
        report_id, params["customer_id"].strip().upper(), institution, begin, max(end, begin),
        metrics, attributes, granularity, exceptions,
    )  # fmt: skip
    request.filters = [
        {"Name": "Begin_Date", "Value": begin.isoformat()},
        {"Name": "End_Date", "Value": request.end.isoformat()},
    ]
    if report_id == "PR_P1":
        request.filters.append({"Name": "Access_Method", "Value": "Regular"})
    if request.metrics != allowed:
        request.filters.append({"Name": "Metric_Type", "Value": "|".join(request.metrics)})
    if end < begin:  # nothing of the range is over yet
        request.metrics = ()
    return request


def _month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def platform_report(
    request: PlatformRequest, counts: dict[date, dict[str, int]], created: datetime
) -> dict[str, Any]:
    """The PR or PR_P1 JSON of one customer (``counts``: month -> metric -> count)."""
    months = sorted(m for m in counts if request.begin <= m <= request.end)
    performance: list[dict[str, Any]] = []
    if request.granularity == "Totals":
        summed = {metric: sum(counts[m].get(metric, 0) for m in months) for metric in request.metrics}
        periods = [(request.begin, request.end, summed)] if months else []
    else:
        periods = [(m, _month_end(m), counts[m]) for m in months]
    for begin, end, cell in periods:
        instances = [
            {"Metric_Type": metric, "Count": int(cell.get(metric, 0))}
            for metric in request.metrics
            if cell.get(metric, 0) > 0
        ]
        if instances:  # COUNTER leaves out zero counts
            period = {"Begin_Date": begin.isoformat(), "End_Date": end.isoformat()}
            performance.append({"Period": period, "Instance": instances})
    exceptions = list(request.exceptions)
    items: list[dict[str, Any]] = []
    if performance:
        item: dict[str, Any] = {"Platform": PLATFORM}
        if "Data_Type" in request.attributes:
            item["Data_Type"] = DATA_TYPE
        if "Access_Method" in request.attributes or request.report_id == "PR_P1":
            item["Access_Method"] = "Regular"
        item["Performance"] = performance
        items.append(item)
    else:
        exceptions.append(
            sushi_exception(3030, f"no usage from {request.begin.isoformat()} to {request.end.isoformat()}")
        )
    header: dict[str, Any] = {
        "Created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Created_By": CREATED_BY,
        "Customer_ID": request.customer_id,
        "Report_ID": request.report_id,
        "Release": "5",
        "Report_Name": REPORTS[request.report_id][0],
        "Institution_Name": request.institution,
        "Report_Filters": request.filters,
    }
    attributes = []
    if request.attributes:
        attributes.append({"Name": "Attributes_To_Show", "Value": "|".join(request.attributes)})
    if request.granularity == "Totals":
        attributes.append({"Name": "Granularity", "Value": "Totals"})
    if attributes:
        header["Report_Attributes"] = attributes
    if exceptions:
        header["Exceptions"] = exceptions
    return {"Report_Header": header, "Report_Items": items}


def report_list(base_path: str) -> list[dict[str, str]]:
    """``/reports``: the reports this platform serves."""
    return [
        {"Report_Name": name, "Report_ID": code, "Release": "5", "Report_Description": description,
         "Path": f"{base_path}/reports/{code.lower()}"}
        for code, (name, description) in REPORTS.items()
    ]  # fmt: skip

"""Reading COUNTER R5 and R5.1 reports, JSON (as SUSHI serves them) or tabular (TSV/CSV, as vendors'
admin sites export them), into rows of (month, metric, count, title, identifiers, attributes).

Written after the COUNTER Code of Practice R5 and R5.1 (sections 3.2 and 8) and the quirks celus-nigiri
and pycounter handle in real answers: exceptions in the header, at the root, as a bare object, as a list
or inside a ``body`` wrapper; a JSON document sent as a JSON string; stray spaces in column headings
("Reporting_ Period_Total"); empty monthly cells. Why not celus-nigiri itself: docs/usage-reports.md.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from schemas.usage import CounterFormatError, month_key

#: Attributes of a report item kept with its rows (R5 and R5.1 names).
ATTRIBUTES = ("Data_Type", "Section_Type", "Access_Type", "Access_Method", "YOP", "Platform", "Publisher")
#: Item identifiers kept with its rows.
IDENTIFIERS = ("DOI", "ISBN", "Print_ISSN", "Online_ISSN", "URI", "Proprietary", "Proprietary_ID")
#: The column or key naming the item, by report family.
_NAME_KEYS = {"DR": "Database", "TR": "Title", "PR": "Platform", "IR": "Item"}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_COLUMN = re.compile(r"^([A-Z][a-z]{2})-(\d{4})$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-\d{2})?$")
_DATE = re.compile(r"(\d{4})-(\d{2})(?:-(\d{2}))?")


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One count: a metric of one item (title, database, platform) in one month."""

    month: date
    metric: str
    count: int
    title: str | None = None
    item_ids: dict[str, str] | None = None
    attributes: dict[str, str] | None = None

    @property
    def access_method(self) -> str:
        return (self.attributes or {}).get("Access_Method", "")


@dataclass(frozen=True, slots=True)
class SushiException:
    """A COUNTER exception (``Code``, ``Severity``, ``Message``, ``Data``)."""

    code: int | None
    severity: str
    message: str
    data: str = ""

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}" if self.code is not None else self.message
        return f"{text} ({self.data})" if self.data else text


@dataclass
class CounterReport:
    """A report as read: its header facts, its rows and its exceptions."""

    report_id: str
    release: str
    begin: date | None = None
    end: date | None = None
    rows: list[UsageRow] = field(default_factory=list)
    exceptions: list[SushiException] = field(default_factory=list)

    def months(self) -> list[date]:
        """The months the report covers: its reporting period, else the months of its rows."""
        if self.begin and self.end and self.begin <= self.end:
            found, day = [], self.begin.replace(day=1)
            while day <= self.end:
                found.append(day)
                day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            return found
        return sorted({row.month for row in self.rows})


def read_report(data: bytes) -> CounterReport:
    """A COUNTER report from its bytes: JSON when it starts with ``{``, ``[`` or ``"``, else tabular."""
    text = _decode(data)
    start = text.lstrip()[:1]
    if start in {"{", "[", '"'}:
        return read_json(text)
    return read_tabular(text)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Windows saves CSV in the ANSI code page; titles may lose a diacritic, counts do not
        return data.decode("cp1252", errors="replace")


# ---------------------------------------------------------------------------- JSON


def read_json(text: str) -> CounterReport:
    try:
        document: Any = json.loads(text)
        if isinstance(document, str):  # a JSON document sent as a JSON string (seen in the wild)
            document = json.loads(document)
    except ValueError as exc:
        raise CounterFormatError(f"not valid JSON: {exc}") from exc
    if isinstance(document, list):  # only a list of exceptions
        return CounterReport("", "", exceptions=[_exception(e) for e in document if isinstance(e, dict)])
    if not isinstance(document, dict):
        raise CounterFormatError("a COUNTER JSON report is an object")
    if isinstance(document.get("body"), dict):
        document = document["body"]
    header = document.get("Report_Header")
    exceptions = _json_exceptions(document, header if isinstance(header, dict) else {})
    if not isinstance(header, dict):
        if exceptions:
            return CounterReport("", "", exceptions=exceptions)
        raise CounterFormatError("no Report_Header and no exception: not a COUNTER report")
    report_id = str(header.get("Report_ID") or "").strip().upper()
    release = str(header.get("Release") or "").strip()
    if not report_id or not release:
        raise CounterFormatError("the Report_Header names no Report_ID or Release")
    begin, end = _json_period(header.get("Report_Filters"))
    report = CounterReport(report_id, release, begin, end, exceptions=exceptions)
    items = document.get("Report_Items") or []
    if not isinstance(items, list):
        raise CounterFormatError("Report_Items is not a list")
    name_key = _NAME_KEYS.get(report_id[:2], "Title")
    for item in items:
        if not isinstance(item, dict):
            raise CounterFormatError("a report item is not an object")
        if "Attribute_Performance" in item:
            report.rows.extend(_items_r51(item, name_key))
        else:
            report.rows.extend(_items_r50(item, name_key))
    return report


def _json_exceptions(document: dict[str, Any], header: dict[str, Any]) -> list[SushiException]:
    found: list[Any] = []
    for holder in (header, document):
        listed = holder.get("Exceptions")
        if isinstance(listed, list):
            found += listed
        if isinstance(holder.get("Exception"), dict):
            found.append(holder["Exception"])
    if not found and "Code" in document and "Report_Header" not in document:
        found.append(document)  # a bare exception object, as R5.1 servers answer an error
    return [_exception(e) for e in found if isinstance(e, dict)]


def _exception(raw: dict[str, Any]) -> SushiException:
    code = raw.get("Code", raw.get("Number"))
    try:
        number = int(code) if code is not None and str(code).strip() else None
    except ValueError:
        number = None
    data = raw.get("Data") or ""
    return SushiException(number, str(raw.get("Severity") or ""), str(raw.get("Message") or ""), str(data))


def _json_period(filters: Any) -> tuple[date | None, date | None]:
    values: dict[str, Any] = {}
    if isinstance(filters, dict):  # R5.1
        values = filters
    elif isinstance(filters, list):  # R5: [{"Name": "Begin_Date", "Value": "2019-01-01"}, ...]
        values = {str(f.get("Name")): f.get("Value") for f in filters if isinstance(f, dict)}
    return _day(values.get("Begin_Date")), _day(values.get("End_Date"))


def _day(value: Any) -> date | None:
    match = _DATE.search(str(value or ""))
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3] or 1))
    except ValueError:
        return None


def _ids(value: Any) -> dict[str, str] | None:
    if isinstance(value, list):  # R5: [{"Type": "DOI", "Value": "..."}]
        pairs = {str(v.get("Type")): v.get("Value") for v in value if isinstance(v, dict)}
    elif isinstance(value, dict):  # R5.1: {"DOI": "..."}
        pairs = value
    else:
        return None
    kept = {k: str(v) for k, v in pairs.items() if k in IDENTIFIERS and v not in (None, "")}
    return kept or None


def _attributes(*sources: dict[str, Any]) -> dict[str, str] | None:
    kept = {
        key: str(source[key]) for source in sources for key in ATTRIBUTES if source.get(key) not in (None, "")
    }
    return kept or None


def _count(value: Any) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError) as exc:
        raise CounterFormatError(f"count {value!r} is not a whole number") from exc
    if count < 0 or str(value).strip() not in {str(count), f"{count}.0"}:
        raise CounterFormatError(f"count {value!r} is not a whole number of zero or more")
    return count


def _items_r50(item: dict[str, Any], name_key: str) -> list[UsageRow]:
    title, ids, attributes = item.get(name_key), _ids(item.get("Item_ID")), _attributes(item)
    rows = []
    for performance in item.get("Performance") or []:
        month = _day((performance.get("Period") or {}).get("Begin_Date"))
        if month is None:
            raise CounterFormatError("a Performance entry has no Period.Begin_Date")
        for instance in performance.get("Instance") or []:
            rows.append(
                UsageRow(
                    month.replace(day=1), str(instance.get("Metric_Type") or ""),
                    _count(instance.get("Count")), title, ids, attributes,
                )
            )  # fmt: skip
    return rows


def _items_r51(item: dict[str, Any], name_key: str) -> list[UsageRow]:
    title, ids = item.get(name_key), _ids(item.get("Item_ID"))
    rows = []
    for block in item.get("Attribute_Performance") or []:
        attributes = _attributes(item, block)
        for metric, by_month in (block.get("Performance") or {}).items():
            for month_text, count in (by_month or {}).items():
                month = _day(month_text)
                if month is None:
                    raise CounterFormatError(f"{month_text!r} is not a month (YYYY-MM)")
                rows.append(
                    UsageRow(month.replace(day=1), str(metric), _count(count), title, ids, attributes)
                )
    return rows


# ---------------------------------------------------------------------------- tabular


def read_tabular(text: str) -> CounterReport:
    """A tabular report: header rows up to a blank row, a heading row, then one row per item and metric."""
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else (";" if first.count(";") > first.count(",") else ",")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: dict[str, str] = {}
    for row in reader:
        if not any(cell.strip() for cell in row):
            break
        header[row[0].strip()] = row[1].strip() if len(row) > 1 else ""
    report_id = header.get("Report_ID", "").strip().upper()
    release = header.get("Release", "").strip()
    if not report_id or not release:
        raise CounterFormatError("not a COUNTER tabular report: no Report_ID and Release in its header")
    begin, end = _tabular_period(header.get("Reporting_Period", ""))
    report = CounterReport(report_id, release, begin, end, exceptions=_tabular_exceptions(header))
    headings: list[str] | None = None
    name_key = _NAME_KEYS.get(report_id[:2], "Title")
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if headings is None:
            headings = [cell.replace(" ", "").strip() for cell in row]
            if "Metric_Type" not in headings:
                raise CounterFormatError("the column headings have no Metric_Type")
            continue
        report.rows.extend(
            _tabular_rows(dict(zip(headings, (c.strip() for c in row), strict=False)), name_key)
        )
    return report


def _tabular_rows(cells: dict[str, str], name_key: str) -> list[UsageRow]:
    metric = cells.get("Metric_Type", "")
    ids = {k: v for k, v in cells.items() if k in IDENTIFIERS and v} or None
    attributes = _attributes(cells)
    rows = []
    for heading, value in cells.items():
        month = _month_heading(heading)
        if month is None or value == "":
            continue
        rows.append(
            UsageRow(month, metric, _count(value.replace(",", "")), cells.get(name_key), ids, attributes)
        )
    return rows


def _month_heading(heading: str) -> date | None:
    if match := _MONTH_COLUMN.match(heading):
        if match[1] in _MONTHS:
            return date(int(match[2]), _MONTHS.index(match[1]) + 1, 1)
        return None
    if (match := _ISO_MONTH.match(heading)) and 1 <= int(match[2]) <= 12:
        return date(int(match[1]), int(match[2]), 1)
    return None


def _tabular_period(text: str) -> tuple[date | None, date | None]:
    # R5: "2017-01-01 to 2017-06-30"; R5.1: "Begin_Date=2017-01-01; End_Date=2017-06-30"
    found = [_day(m[0]) for m in _DATE.finditer(text)]
    return (found[0], found[1]) if len(found) >= 2 else (None, None)


def _tabular_exceptions(header: dict[str, str]) -> list[SushiException]:
    # "3030: No Usage Available for Requested Dates (2019-01); 3040: Partial Data Returned"
    found = []
    for match in re.finditer(r"(\d{4})\s*:\s*([^;(]*)(?:\(([^)]*)\))?", header.get("Exceptions", "")):
        found.append(SushiException(int(match[1]), "", match[2].strip(), (match[3] or "").strip()))
    return found


def describe_months(months: list[date]) -> list[str]:
    return [month_key(m) for m in months]

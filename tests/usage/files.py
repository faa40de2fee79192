"""COUNTER tabular reports written for the tests, in the R5 layout of the Code of Practice (section 3.2)."""

from __future__ import annotations

HEADER_ROWS = (
    "Report_Name", "Report_ID", "Release", "Institution_Name", "Institution_ID", "Metric_Types",
    "Report_Filters", "Report_Attributes", "Exceptions", "Reporting_Period", "Created", "Created_By",
)  # fmt: skip
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def database_report(
    report_id: str, year: int, months: int, rows: list[tuple[str, str, str, list[int]]], sep: str = "\t"
) -> bytes:
    """A DR (or DR_D1) of ``months`` months of ``year``: (database, access method, metric, counts) rows."""
    values = {
        "Report_Name": "Database Master Report" if report_id == "DR" else "Database Search and Item Usage",
        "Report_ID": report_id, "Release": "5", "Institution_Name": "Thư viện thử",
        "Metric_Types": "Total_Item_Requests; Unique_Item_Requests",
        "Report_Attributes": "Attributes_To_Show=Access_Method" if report_id == "DR" else "",
        "Reporting_Period": f"{year}-01-01 to {year}-{months:02d}-28", "Created": f"{year + 1}-01-05",
        "Created_By": "Loopback Vendor",
    }  # fmt: skip
    lines = [sep.join([name, values.get(name, "")]) for name in HEADER_ROWS]
    lines.append("")
    columns = ["Database", "Publisher", "Publisher_ID", "Platform", "Proprietary_ID"]
    if report_id == "DR":
        columns.append("Access_Method")
    columns += ["Metric_Type", "Reporting_Period_Total"] + [f"{MONTHS[m]}-{year}" for m in range(months)]
    lines.append(sep.join(columns))
    for database, access, metric, counts in rows:
        cells = [database, "Loopback Publisher", "", "Loopback", f"lb:{database.lower()}"]
        if report_id == "DR":
            cells.append(access)
        cells += [metric, str(sum(counts))] + [str(c) for c in counts]
        lines.append(sep.join(cells))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")

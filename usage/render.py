"""The usage report as CSV and as the admin page's words and SVG chart (drawn here, no chart library).

The page's words are one dict per language below (``STRINGS``); the public pages' catalogue is built
elsewhere, and these can move into it when it exists.
"""

from __future__ import annotations

import csv
import io
from html import escape

from schemas.usage import UsageReport

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Thống kê sử dụng cơ sở dữ liệu dùng chung",
        "year": "Năm",
        "total": "Tổng lượt tải (Total_Item_Requests)",
        "unique": "Lượt tải không trùng (Unique_Item_Requests)",
        "average": "Trung bình mỗi tháng",
        "months_with_data": "Số tháng có số liệu",
        "change": "So với năm trước (trung bình tháng)",
        "cost": "Chi phí thuê bao",
        "cost_per_download": "Chi phí cho mỗi lượt tải",
        "chart": "Lượt tải theo tháng",
        "members": "Thành viên xếp theo mức sử dụng",
        "rank": "Hạng",
        "member": "Thành viên",
        "share": "Tỷ lệ",
        "cost_share": "Phần chi phí",
        "databases": "Cơ sở dữ liệu",
        "database": "Cơ sở dữ liệu",
        "none": "Chưa có số liệu cho năm này.",
        "own": "Sử dụng Lienhop",
        "own_searches": "Lượt tìm kiếm",
        "own_views": "Lượt xem biểu ghi",
        "own_link_outs": "Lượt chuyển tới OPAC",
        "own_link_outs_to": "Lượt chuyển tới OPAC của thành viên",
        "own_api_calls": "Lượt gọi API",
        "own_all": "Tất cả",
        "other_language": "English",
    },
    "en": {
        "title": "Usage of the shared databases",
        "year": "Year",
        "total": "Downloads (Total_Item_Requests)",
        "unique": "Unique downloads (Unique_Item_Requests)",
        "average": "Monthly average",
        "months_with_data": "Months with data",
        "change": "Change on the previous year (monthly average)",
        "cost": "Subscription cost",
        "cost_per_download": "Cost per download",
        "chart": "Downloads per month",
        "members": "Members ranked by use",
        "rank": "Rank",
        "member": "Member",
        "share": "Share",
        "cost_share": "Cost share",
        "databases": "Databases",
        "database": "Database",
        "none": "No usage data for this year yet.",
        "own": "Use of Lienhop",
        "own_searches": "Searches",
        "own_views": "Record views",
        "own_link_outs": "Link-outs to OPACs",
        "own_link_outs_to": "Link-outs to the member's OPAC",
        "own_api_calls": "API calls",
        "own_all": "All",
        "other_language": "Tiếng Việt",
    },
}
LANGUAGES = tuple(STRINGS)


def words(lang: str) -> dict[str, str]:
    return STRINGS.get(lang, STRINGS["vi"])


def monthly_chart(report: UsageReport, lang: str = "vi", width: int = 720, height: int = 260) -> str:
    """An SVG bar chart of the year's twelve months (empty months drawn as gaps), with its own title."""
    months = [f"{report.year:04d}-{m:02d}" for m in range(1, 13)]
    values = [report.months[m].total_item_requests if m in report.months else 0 for m in months]
    top = max(values) or 1
    left, bottom, pad = 56, 28, 12
    plot_w, plot_h = width - left - pad, height - bottom - pad
    step = plot_w / 12
    title = escape(f"{words(lang)['chart']} {report.year}")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{title}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
        'font-size="11">',
        f"<title>{title}</title>",
        f'<line x1="{left}" y1="{pad + plot_h}" x2="{width - pad}" y2="{pad + plot_h}" stroke="#5a6b78"/>',
    ]
    for fraction in (0.5, 1.0):
        y = pad + plot_h * (1 - fraction)
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{round(top * fraction):,}</text>'
        )
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - pad}" y2="{y:.1f}" stroke="#dde3e8"/>')
    for index, (month, value) in enumerate(zip(months, values, strict=True)):
        bar_h = plot_h * value / top
        x = left + index * step + step * 0.15
        y = pad + plot_h - bar_h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{bar_h:.1f}" fill="#2f6f9f">'
            f"<title>{month}: {value:,}</title></rect>"
        )
        parts.append(
            f'<text x="{x + step * 0.35:.1f}" y="{height - 10}" text-anchor="middle">{month[5:]}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def report_csv(report: UsageReport) -> str:
    """One row per member, database and month (what a spreadsheet pivots), then the consortium's
    total of each month (member and database ``*``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["year", "month", "member", "database", "total_item_requests", "unique_item_requests", "report"]
    )
    for row in report.rows:
        writer.writerow(
            [report.year, row.month, row.member, row.database, row.total_item_requests,
             row.unique_item_requests, row.report_id]
        )  # fmt: skip
    for month, usage in sorted(report.months.items()):
        writer.writerow(
            [report.year, month, "*", "*", usage.total_item_requests, usage.unique_item_requests, ""]
        )
    return out.getvalue()

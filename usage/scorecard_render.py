"""The member scorecard as CSV and as the admin page's words (Vietnamese and English)."""

from __future__ import annotations

import csv
import io

from schemas.usage import Scorecard, ScorecardFigures

#: The figures of a scorecard row, in the CSV's and the page's order.
FIGURES = tuple(ScorecardFigures.model_fields)

STRINGS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Bảng đánh giá thành viên",
        "year": "Năm",
        "rank": "Hạng",
        "member": "Thành viên",
        "status": "Tư cách",
        "member_status": "thành viên",
        "observer_status": "quan sát viên",
        "eligible": "đủ điều kiện từ",
        "previous": "năm trước",
        "none": "Chưa có thành viên.",
        "other_language": "English",
        "records_active": "Biểu ghi đang chia sẻ",
        "records_added": "Thêm mới",
        "records_deleted": "Rút bỏ",
        "last_successful_harvest": "Lần thu thập thành công gần nhất",
        "harvest_success_share": "Tỷ lệ thu thập thành công",
        "scheduled_success_share": "Tỷ lệ thu thập theo lịch thành công",
        "days_failing": "Số ngày lỗi",
        "quarantine_rate": "Tỷ lệ cách ly",
        "database_downloads": "Lượt tải CSDL dùng chung",
        "lienhop_searches": "Lượt tìm trên Lienhop",
        "lienhop_link_outs": "Lượt chuyển tới OPAC",
        "link_outs_to_member": "Lượt chuyển tới OPAC của thành viên",
    },
    "en": {
        "title": "Member scorecard",
        "year": "Year",
        "rank": "Rank",
        "member": "Member",
        "status": "Status",
        "member_status": "member",
        "observer_status": "observer",
        "eligible": "eligible from",
        "previous": "previous year",
        "none": "No members yet.",
        "other_language": "Tiếng Việt",
        "records_active": "Records shared",
        "records_added": "Added",
        "records_deleted": "Withdrawn",
        "last_successful_harvest": "Last successful harvest",
        "harvest_success_share": "Harvests succeeded",
        "scheduled_success_share": "Scheduled harvests succeeded",
        "days_failing": "Days failing",
        "quarantine_rate": "Quarantine rate",
        "database_downloads": "Shared database downloads",
        "lienhop_searches": "Lienhop searches",
        "lienhop_link_outs": "Link-outs made",
        "link_outs_to_member": "Link-outs to its OPAC",
    },
}
#: The columns the page shows (the CSV and JSON carry every figure).
SHOWN = (
    "records_active", "records_added", "records_deleted", "last_successful_harvest", "harvest_success_share",
    "scheduled_success_share", "days_failing", "quarantine_rate", "database_downloads", "lienhop_searches",
    "lienhop_link_outs", "link_outs_to_member",
)  # fmt: skip


def scorecard_csv(card: Scorecard) -> str:
    """One row per member: rank, code, name, status, eligibility, the year's figures, then the previous
    year's (``previous_`` columns)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["year", "rank", "member", "name", "status", "eligible_for_membership", *FIGURES,
         *(f"previous_{f}" for f in FIGURES)]
    )  # fmt: skip
    for m in card.members:
        previous = m.previous.model_dump(mode="json") if m.previous else {}
        figures = m.model_dump(mode="json")
        writer.writerow(
            [card.year, m.rank, m.code, m.name, m.status, figures["eligible_for_membership"] or "",
             *(_cell(figures[f]) for f in FIGURES), *(_cell(previous.get(f)) for f in FIGURES)]
        )  # fmt: skip
    return out.getvalue()


def _cell(value: object) -> object:
    return "" if value is None else value

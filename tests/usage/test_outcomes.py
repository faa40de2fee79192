"""What each SUSHI answer means for a member's month (the table in usage/outcomes.py)."""

from __future__ import annotations

from datetime import date

import pytest

from usage.counter import CounterReport, SushiException, UsageRow
from usage.outcomes import judge

ROW = UsageRow(date(2024, 1, 1), "Total_Item_Requests", 5)


def answer(*codes: int, rows: bool = False, severity: str = "Error") -> CounterReport:
    exceptions = [SushiException(code, severity, f"message {code}") for code in codes]
    return CounterReport("DR", "5", rows=[ROW] if rows else [], exceptions=exceptions)


@pytest.mark.parametrize(
    ("report", "status", "state", "code", "retry"),
    [
        (answer(), 200, "ok", None, False),
        (answer(3040, rows=True, severity="Warning"), 200, "ok", None, False),  # partial data: loaded, noted
        (answer(3030), 200, "no_usage", 3030, False),
        (answer(3031), 200, "not_ready", 3031, False),
        (answer(3032), 200, "unsupported", 3032, False),  # purged by the vendor: keep what was loaded
        (answer(1011, severity="Warning"), 202, "queued", 1011, True),
        (answer(1010), 503, "error", 1010, True),
        (answer(2000), 401, "unauthorized", 2000, False),
        (answer(2020, rows=True), 401, "unauthorized", 2020, False),  # data with a refusal is not trusted
        (answer(3000), 400, "unsupported", 3000, False),
        (answer(3020), 400, "error", 3020, False),
        (answer(9999, severity="Info"), 200, "ok", None, False),
        (None, 502, "error", None, True),
        (None, 404, "error", None, False),
    ],
)
def test_verdicts(
    report: CounterReport | None, status: int, state: str, code: int | None, retry: bool
) -> None:
    verdict = judge(report, status)
    assert (verdict.state, verdict.code, verdict.retry_now) == (state, code, retry)

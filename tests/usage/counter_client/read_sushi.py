"""Reads a SUSHI server's PR and PR_P1 with celus-nigiri's Sushi5Client and prints what it understood
as JSON. Run by tests/usage/test_counter_client.py with the Python of .venv-counter (see
requirements.txt); it imports nothing of Lienhop's.

    read_sushi.py BASE_URL API_KEY CUSTOMER_ID BEGIN END
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

from celus_nigiri.client import Sushi5Client
from celus_nigiri.counter5 import Counter5PRReport


def read(client: Sushi5Client, report_type: str, begin: str, end: str) -> dict[str, Any]:
    buffer = io.BytesIO()
    if report_type == "pr":
        report = client.get_report_data("pr", begin, end, output_content=buffer)
    else:  # nigiri knows PR_P1 as a report type but has no class of its own for it: it reads as a PR
        params = dict(Counter5PRReport.extra_params)
        answer = client.fetch_report_data(report_type, begin, end, dump_file=buffer, params=params)
        report = Counter5PRReport(buffer, http_status_code=answer.status_code, url=answer.url)
    # the report read its exceptions when it was made; reading it again for its items adds them again
    errors = [getattr(e, "code", None) for e in report.errors]
    warnings = [getattr(e, "code", None) for e in report.warnings]
    header, items = report.fd_to_dicts(buffer)
    records = [
        {"start": r.start.isoformat(), "end": r.end.isoformat(), "metric": r.metric, "value": r.value,
         "dimensions": r.dimension_data}
        for r in report.read_report(header, items)
    ]  # fmt: skip
    return {
        "http_status": report.http_status_code,
        "report_id": report.header.get("Report_ID"),
        "release": report.header.get("Release"),
        "customer_id": report.header.get("Customer_ID"),
        "errors": errors,
        "warnings": warnings,
        "records": records,
    }


def main() -> None:
    url, key, customer, begin, end = sys.argv[1:6]
    client = Sushi5Client(url, customer, extra_params={"api_key": key}, user_agent="counter-client-test")
    stranger = Sushi5Client(url, "NOBODY", extra_params={"api_key": key}, user_agent="counter-client-test")
    result = {
        "pr": read(client, "pr", begin, end),
        "pr_p1": read(client, "pr_p1", begin, end),
        "refused": read(stranger, "pr", begin, end),
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

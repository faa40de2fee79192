"""Round trip: Lienhop's own usage served at ``/sushi/r5`` and read back over real HTTP by a COUNTER
client that is not ours, celus-nigiri's ``Sushi5Client`` (CELUS's harvester library), run from its own
virtualenv because its pins conflict with Lienhop's (``counter_client/requirements.txt``)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.main import create_app
from schemas.member import MemberCreate
from schemas.settings import Settings
from store.front import RecordStore
from tests.servers import serve_in_thread
from usage.events import UsageRecorder

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("counter_client") / "requirements.txt"
SCRIPT = REQUIREMENTS.with_name("read_sushi.py")
VENV = ROOT / ".venv-counter"
TOKEN = "sushi-admin-token"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


@pytest.fixture(scope="session")
def counter_python() -> Path:
    """The Python of ``.venv-counter``, made (once, or again when the requirements change) with the
    COUNTER client installed; ``make test`` makes it beforehand."""
    stamp = VENV / ".installed-stamp"
    wanted = REQUIREMENTS.read_text()
    if not stamp.is_file() or stamp.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)],
            check=True,
            timeout=600,
        )
        stamp.write_text(wanted)
    return VENV / "bin" / "python"


async def _usage(settings: Settings) -> None:
    """NASATI's use in January and March 2025 (two sessions in January), HUE's in February."""
    store = await RecordStore.open(settings.db_url)
    try:
        for code in ("NASATI", "HUE"):
            await store.add_member(MemberCreate(code=code, name_vi=f"Thư viện {code}"))
        recorder = UsageRecorder(store.engine)
        jan, feb, mar = (datetime(2025, m, 10, 9, 0, tzinfo=UTC) for m in (1, 2, 3))
        for at, member, client in ((jan, "NASATI", "a"), (jan, "NASATI", "b"), (mar, "NASATI", "a"),
                                   (feb, "HUE", "a")):  # fmt: skip
            recorder.record("search", "page", client=client, user_agent=BROWSER, member=member, at=at,
                            key="q=1")  # fmt: skip
            recorder.record("view", "page", client=client, user_agent=BROWSER, member=member, at=at,
                            item="nasati-1")  # fmt: skip
            recorder.record("request", "widget", client=client, user_agent=BROWSER, member=member, at=at,
                            item="nasati-1")  # fmt: skip
        await recorder.flush()
    finally:
        await store.close()


def _by_month(records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    months: dict[str, dict[str, int]] = {}
    for r in records:
        months.setdefault(r["start"], {})[r["metric"]] = r["value"]
    return months


def test_a_counter_client_reads_our_platform_report(settings: Settings, counter_python: Path) -> None:
    served = settings.model_copy(update={"admin_token": TOKEN, "scheduler_seconds": 0})
    asyncio.run(_usage(served))
    with serve_in_thread(create_app(served)) as url:
        asked = [f"{url}/sushi/r5", TOKEN, "NASATI", "2025-01-01", "2025-03-31"]
        command = [str(counter_python), str(SCRIPT), *asked]
        run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    read = json.loads(run.stdout)

    pr = read["pr"]
    header = (pr["http_status"], pr["report_id"], pr["release"], pr["customer_id"])
    assert header == (200, "PR", "5", "NASATI")
    assert pr["errors"] == [] and pr["warnings"] == []
    assert _by_month(pr["records"]) == {
        "2025-01-01": {"Searches_Platform": 2, "Total_Item_Investigations": 4, "Total_Item_Requests": 2,
                       "Unique_Item_Investigations": 2, "Unique_Item_Requests": 2},
        "2025-03-01": {"Searches_Platform": 1, "Total_Item_Investigations": 2, "Total_Item_Requests": 1,
                       "Unique_Item_Investigations": 1, "Unique_Item_Requests": 1},
    }  # fmt: skip  # February was HUE's
    # the attributes the client asked for (Access_Method|Data_Type) came back on every row
    shown = {(r["dimensions"].get("Access_Method"), r["dimensions"].get("Data_Type")) for r in pr["records"]}
    assert shown == {("Regular", "Other")}
    assert all(r["dimensions"].get("Platform") for r in pr["records"])

    p1 = read["pr_p1"]
    assert (p1["http_status"], p1["report_id"], p1["errors"]) == (200, "PR_P1", [])
    assert _by_month(p1["records"]) == {
        "2025-01-01": {"Searches_Platform": 2, "Total_Item_Requests": 2, "Unique_Item_Requests": 2},
        "2025-03-01": {"Searches_Platform": 1, "Total_Item_Requests": 1, "Unique_Item_Requests": 1},
    }

    refused = read["refused"]  # a customer we do not know: COUNTER's 2010, as the client reads it
    assert refused["http_status"] == 403 and refused["errors"] == [2010] and refused["records"] == []

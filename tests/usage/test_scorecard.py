"""The member scorecard against figures worked out by hand from a made-up year of records and runs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert

from store.front import RecordStore
from store.tables import records, runs
from usage.events import UsageRecorder
from usage.scorecard import build_scorecard
from usage.scorecard_render import scorecard_csv
from usage.tables import usage_totals

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _history(store: RecordStore) -> None:
    await store.update_member("HUE", status="observer", observer_since=date(2024, 3, 1))
    shared = [  # (member, id, first seen, withdrawn, last change)
        ("NASATI", "r1", "2024-05-01", False, "2024-05-01"),  # live since 2024
        ("NASATI", "r2", "2025-02-01", False, "2025-02-01"),  # added 2025
        ("NASATI", "r3", "2025-03-01", True, "2025-07-01"),  # added and withdrawn in 2025
        ("NASATI", "r4", "2024-01-01", True, "2026-02-01"),  # withdrawn after 2025: live at its end
        ("NASATI", "r5", "2026-01-05", False, "2026-01-05"),  # after 2025
        ("HUE", "h1", "2025-06-01", False, "2025-06-01"),
    ]
    harvests = [  # (member, kind, started = finished, ok, added, updated, quarantined, by the scheduler)
        ("NASATI", "harvest", "2024-12-30 00:00", False, 0, 0, 0, True),  # failing when 2025 begins
        ("NASATI", "harvest", "2025-01-03 00:00", True, 90, 0, 10, True),  # 2 days failing
        ("NASATI", "harvest", "2025-03-10 00:00", False, 0, 0, 0, True),
        ("NASATI", "harvest", "2025-03-11 00:00", False, 0, 0, 0, False),  # an admin tries again
        ("NASATI", "harvest", "2025-03-15 00:00", True, 0, 100, 0, True),  # 5 days failing
        ("NASATI", "import", "2025-05-01 00:00", True, 50, 0, 50, False),
        ("NASATI", "harvest", "2025-12-31 12:00", False, 0, 0, 0, False),  # half a day failing to the end
        ("HUE", "harvest", "2025-06-01 00:00", True, 1, 0, 0, False),
    ]
    async with store.engine.begin() as conn:
        for seq, (member, key, seen, withdrawn, changed) in enumerate(shared, 1):
            await conn.execute(insert(records).values(
                id=f"{member.lower()}-{key}", member=member, oai_identifier=f"oai:{key}", seq=seq,
                content_hash="0" * 40, data={}, raw_format="oai_dc", first_seen=_at(seen),
                updated=_at(changed), deleted=withdrawn,
            ))  # fmt: skip
        for member, kind, started, ok, added, updated, quarantined, scheduled in harvests:
            await conn.execute(insert(runs).values(
                member=member, kind=kind, started=_at(started), finished=_at(started), ok=ok, added=added,
                updated=updated, quarantined=quarantined,
                params={"full": "false", "scheduled": "true"} if scheduled else {"full": "false"},
            ))  # fmt: skip
        for month, total in ((date(2025, 1, 1), 120), (date(2025, 2, 1), 30), (date(2024, 11, 1), 7)):
            await conn.execute(insert(usage_totals).values(
                database="SD", member="NASATI", report_id="DR", month=month, metric="Total_Item_Requests",
                access_method="", total=total,
            ))  # fmt: skip
    recorder = UsageRecorder(store.engine)
    when = _at("2025-04-02 10:00")
    for query in ("q=a", "q=b"):
        recorder.record("search", "page", client="x", user_agent=BROWSER, member="NASATI", at=when, key=query)
    recorder.record(
        "lookup", "widget", client="x", user_agent=BROWSER, member="NASATI", at=when, key="isbn=1"
    )
    recorder.record("request", "widget", client="y", user_agent=BROWSER, member="HUE", at=when,
                    item="nasati-0123456789abcdef")  # fmt: skip
    await recorder.close()


@pytest.mark.asyncio
async def test_scorecard_figures_match_the_hand_computed_ones(members_store: RecordStore) -> None:
    await _history(members_store)
    card = await build_scorecard(members_store.engine, 2025, now=_at("2026-06-01 00:00"))
    assert card.year == 2025
    by_code = {m.code: m for m in card.members}
    nasati, hue = by_code["NASATI"], by_code["HUE"]

    assert (nasati.records_active, nasati.records_added, nasati.records_deleted) == (3, 2, 1)
    assert nasati.harvests == 5 and nasati.harvests_succeeded == 2 and nasati.harvest_success_share == 0.4
    # of the three the scheduler started in 2025, two succeeded (the admin's two tries failed)
    assert (nasati.scheduled_harvests, nasati.scheduled_harvests_succeeded) == (3, 2)
    assert nasati.scheduled_success_share == 0.6667
    assert nasati.last_successful_harvest == _at("2025-03-15 00:00")
    assert nasati.days_failing == 7.5  # 2 + 5 + 0.5
    assert (nasati.records_processed, nasati.quarantined, nasati.quarantine_rate) == (300, 60, 0.2)
    assert nasati.database_downloads == 150
    assert nasati.lienhop_searches == 3 and nasati.link_outs_to_member == 1
    assert nasati.eligible_for_membership is None
    assert nasati.previous is not None
    assert (nasati.previous.records_active, nasati.previous.records_added) == (2, 2)
    assert nasati.previous.database_downloads == 7 and nasati.previous.harvests == 1

    assert (hue.records_active, hue.harvest_success_share, hue.lienhop_link_outs) == (1, 1.0, 1)
    assert hue.scheduled_harvests == 0 and hue.scheduled_success_share is None
    assert hue.status == "observer" and hue.eligible_for_membership == date(2026, 3, 1)

    # ranked by records shared, then by harvests that succeeded; members with nothing follow by code
    assert [m.code for m in card.members][:3] == ["NASATI", "HUE", "CTU"]
    assert [m.rank for m in card.members] == list(range(1, len(card.members) + 1))

    rows = list(csv.DictReader(io.StringIO(scorecard_csv(card))))
    first = rows[0]
    assert (first["member"], first["records_active"], first["previous_records_active"]) == (
        "NASATI",
        "3",
        "2",
    )
    assert first["quarantine_rate"] == "0.2" and first["days_failing"] == "7.5"

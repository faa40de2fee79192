"""Changing a member: the observation rule on promotion, clearing fields, re-listing a moved source."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from app.catalog import update_member
from schemas.errors import InvalidInput, NotEligible
from schemas.member import Member, MemberUpdate, member_changes
from schemas.settings import Settings
from store.front import RecordStore
from tests.app.test_cli import lienhop, one_line_error
from tests.servers import serve_in_thread
from tests.servers.faulty import FaultyProvider, vietnamese_records

TODAY = date(2026, 12, 4)


def observer(since: date | None) -> Member:
    return Member(code="OBS", name_vi="Quan sát", status="observer", observer_since=since)


def test_observer_promoted_after_two_years_joins_today() -> None:
    changes = member_changes(observer(date(2024, 12, 4)), MemberUpdate(status="member"), TODAY)
    assert changes == {"status": "member", "joined": TODAY}
    given = member_changes(
        observer(date(2024, 1, 1)), MemberUpdate(status="member", joined=date(2026, 1, 5)), TODAY
    )
    assert given["joined"] == date(2026, 1, 5)


def test_observer_promoted_early_is_refused_with_the_date_unless_forced() -> None:
    early = observer(date(2024, 12, 5))  # eligible tomorrow
    with pytest.raises(NotEligible, match=r"eligible for full membership on 2026-12-05 \(in 1 days\)"):
        member_changes(early, MemberUpdate(status="member"), TODAY)
    assert member_changes(early, MemberUpdate(status="member"), TODAY, force=True)["status"] == "member"
    with pytest.raises(NotEligible, match="no start of observation"):
        member_changes(observer(None), MemberUpdate(status="member"), TODAY)
    # the start of observation given with the promotion counts
    dated = MemberUpdate(status="member", observer_since=date(2023, 6, 1))
    assert member_changes(observer(None), dated, TODAY)["status"] == "member"


def test_member_made_observer_starts_observing_today() -> None:
    member = Member(code="MEM", name_vi="Thành viên", status="member")
    assert member_changes(member, MemberUpdate(status="observer"), TODAY) == {
        "status": "observer",
        "observer_since": TODAY,
    }


def test_only_real_changes_and_clearing() -> None:
    member = Member(code="MEM", name_vi="Thành viên", name_en="Member", contact="a@b.vn", active=True)
    assert member_changes(member, MemberUpdate(active=True, name_vi="Thành viên"), TODAY) == {}
    assert member_changes(member, MemberUpdate(name_en="", contact=None), TODAY) == {
        "name_en": None,
        "contact": None,
    }
    # a required field sent as null is left alone rather than emptied
    assert member_changes(member, MemberUpdate.model_validate({"name_vi": None}), TODAY) == {}
    with pytest.raises(InvalidInput, match="oai_url: must be an http"):
        member_changes(member, MemberUpdate(oai_url="ftp://x"), TODAY)
    with pytest.raises(InvalidInput, match="harvest_schedule"):
        member_changes(member, MemberUpdate(harvest_schedule="yearly"), TODAY)


@pytest.mark.asyncio
async def test_new_source_makes_the_next_harvest_list_everything(
    store: RecordStore, settings: Settings
) -> None:
    """After a move to a new OAI-PMH URL the next harvest asks without ``from``; before it, with."""
    from harvesters.runner import harvest_members
    from schemas.member import MemberCreate

    records = vietnamese_records(5, datetime(2024, 1, 1, tzinfo=UTC))
    old, new = FaultyProvider(records=records), FaultyProvider(records=list(records))
    with serve_in_thread(old) as old_url, serve_in_thread(new) as new_url:
        await store.add_member(MemberCreate(code="MOVE", name_vi="Chuyển nhà", oai_url=old_url + "/oai"))
        [first] = await harvest_members(store, settings, ["MOVE"])
        assert first.ok and first.added == 5
        [again] = await harvest_members(store, settings, ["MOVE"])
        assert again.ok and again.added == 0
        assert "from" in _listing(old)[-1]  # incremental

        kept = await update_member(store, "MOVE", MemberUpdate(contact="thuvien@example.vn"))
        assert not kept.relisted
        moved = await update_member(store, "MOVE", MemberUpdate(oai_url=new_url + "/oai"))
        assert moved.relisted and moved.changed == {"oai_url": new_url + "/oai"}
        [third] = await harvest_members(store, settings, ["MOVE"])
    assert third.ok and third.unchanged == 5 and third.added == 0
    assert "from" not in _listing(new)[0]


def _listing(provider: FaultyProvider) -> list[dict[str, str]]:
    return [q for q in provider.requests if q.get("verb") == "ListRecords"]


@pytest.mark.asyncio
async def test_patch_member_over_http(app_client: httpx.AsyncClient) -> None:
    new = {"code": "VASS2", "name_vi": "Viện Hàn lâm", "status": "observer", "observer_since": "2099-01-01"}
    assert (await app_client.post("/admin/members", json=new)).status_code == 201

    early = await app_client.patch("/admin/members/VASS2", json={"status": "member"})
    assert early.status_code == 409, early.text
    assert "eligible for full membership on 2101-01-01" in early.json()["detail"]

    forced = await app_client.patch("/admin/members/vass2?force=true", json={"status": "member"})
    assert forced.status_code == 200, forced.text
    body = forced.json()
    assert body["changed"]["status"] == "member" and body["report"]["status"] == "member"
    assert body["report"]["member"]["joined"] == date.today().isoformat()
    shown = (await app_client.get("/members/VASS2")).json()
    assert shown["status"] == "member"

    off = await app_client.patch("/admin/members/VASS2", json={"active": False, "name_en": "VASS"})
    assert off.json()["changed"] == {"active": False, "name_en": "VASS"}
    assert (await app_client.get("/members/VASS2")).json()["member"]["active"] is False

    nul = await app_client.patch("/admin/members/VASS2", json={"name_vi": "Viện\u0000Hàn lâm"})
    assert nul.status_code == 422 and "control characters" in nul.json()["detail"]
    decomposed = "Vie\u0323\u0302n Ha\u0300n la\u0302m"  # typed with combining marks
    named = await app_client.patch("/admin/members/VASS2", json={"name_vi": f" {decomposed} "})
    assert named.json()["report"]["member"]["name_vi"] == "Viện Hàn lâm"
    bad = await app_client.patch("/admin/members/VASS2", json={"metadata_prefix": "mods"})
    assert bad.status_code == 422
    unknown_field = await app_client.patch("/admin/members/VASS2", json={"colour": "red"})
    assert unknown_field.status_code == 422
    missing = await app_client.patch("/admin/members/NOPE", json={"active": False})
    assert missing.status_code == 404


def test_members_update_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENHOP_HOME", str(tmp_path / "home"))
    observing = ["--status", "observer", "--observer-since", "2099-01-10"]
    assert lienhop("members", "add", "OBS", "--name", "Quan sát", *observing).exit_code == 0
    one_line_error(lienhop("members", "update", "OBS", "--status", "member"), "2101-01-10", "force")
    promoted = lienhop("members", "update", "OBS", "--status", "member", "--force")
    assert promoted.exit_code == 0, promoted.output
    assert "status = member" in promoted.stdout and f"joined = {date.today()}" in promoted.stdout
    source = ["--oai-url", "https://dspace.example.vn/oai", "--set", "com_1"]
    moved = lienhop("members", "update", "OBS", *source, "--inactive")
    assert moved.exit_code == 0, moved.output
    assert "lists the whole repository again" in moved.stdout
    shown = lienhop("members", "show", "OBS", "--json")
    assert '"active": false' in shown.stdout and '"com_1"' in shown.stdout
    assert "member, inactive" in lienhop("members", "list").stdout
    assert lienhop("members", "update", "OBS", "--inactive").stdout.strip() == "OBS: nothing to change"
    one_line_error(lienhop("members", "update", "OBS", "--prefix", "mods"), "metadata_prefix")
    one_line_error(lienhop("members", "update", "NOPE", "--active"), "NOPE")
    one_line_error(lienhop("members", "update", "OBS", "--set", "a", "--all-sets"), "--all-sets")

"""Checking a member's OAI-PMH endpoint before its first harvest: over real HTTP, nothing stored."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harvesters.probe import check_member
from schemas.member import Member
from schemas.probe import ProbeCheck, ProbeReport
from schemas.settings import Settings
from store.front import RecordStore
from tests.app.conftest import demo_provider
from tests.app.test_cli import lienhop
from tests.harvesters.test_faults import START
from tests.servers import free_port, serve_in_thread
from tests.servers.faulty import Fault, FaultyProvider, vietnamese_records


@pytest.fixture
def demo_base() -> Iterator[str]:
    with serve_in_thread(demo_provider(count=30)) as url:
        yield url + "/demo/oai"


def _check(report: ProbeReport, name: str) -> ProbeCheck:
    return next(c for c in report.checks if c.name == name)


def _member(url: str | None, **kw: object) -> Member:
    return Member.model_validate({"code": "CHK", "name_vi": "Thư viện kiểm tra", "oai_url": url, **kw})


@pytest.mark.asyncio
async def test_a_good_endpoint_passes_every_check(demo_base: str, settings: Settings) -> None:
    member = _member(f"{demo_base}/VNUA", metadata_prefix="marcxml", sets=["type:thesis"])
    report = await check_member(member, settings)
    assert report.ok, report.checks
    names = ["Identify", "ListMetadataFormats", "ListSets", "ListRecords", "incremental"]
    assert [c.name for c in report.checks] == names
    assert all(c.status == "ok" for c in report.checks), report.checks
    assert report.repository is not None and report.repository["protocol_version"] == "2.0"
    sample = _check(report, "ListRecords")
    assert "records read" in sample.detail and "0 unreadable" in sample.detail


@pytest.mark.asyncio
async def test_unknown_set_fails_naming_it(demo_base: str, settings: Settings) -> None:
    report = await check_member(_member(f"{demo_base}/HUE", sets=["type:map"]), settings)
    assert not report.ok
    sets = next(c for c in report.checks if c.name == "ListSets")
    assert sets.status == "fail" and "type:map" in sets.detail
    # the first page of a set the repository does not have: nothing to harvest, said as a warning
    assert _check(report, "ListRecords").status in {"warn", "fail"}


@pytest.mark.asyncio
async def test_unreachable_endpoint_fails_at_identify(settings: Settings) -> None:
    dead = f"http://127.0.0.1:{free_port()}/oai"
    quick = settings.model_copy(update={"max_retries": 0, "request_timeout": 3})
    report = await check_member(_member(dead), quick)
    assert not report.ok and [c.name for c in report.checks] == ["Identify"]
    assert report.checks[0].status == "fail" and "HarvestError" in report.checks[0].detail


@pytest.mark.asyncio
async def test_unreadable_records_are_a_warning_with_the_first_reason(settings: Settings) -> None:
    app = FaultyProvider(records=vietnamese_records(6, START))

    def spoil(body: bytes) -> bytes:
        return re.sub(rb"(oai:faulty:000002</identifier><datestamp>)[^<]+", rb"\1not a date", body)

    app.script = [Fault(transform=spoil)]
    with serve_in_thread(app) as url:
        report = await check_member(_member(url + "/oai"), settings)
    formats = report.checks[1]  # this provider does not answer ListMetadataFormats: worth a look only
    assert formats.name == "ListMetadataFormats" and formats.status == "warn" and "400" in formats.detail
    sample = _check(report, "ListRecords")
    assert sample.status == "warn", report.checks
    assert "1 unreadable" in sample.detail and "first problem" in sample.detail


@pytest.mark.asyncio
async def test_incremental_check_says_when_from_is_refused_or_ignored(settings: Settings) -> None:
    records = vietnamese_records(6, START)
    refuses = FaultyProvider(records=records, refuses_from="seconds")
    ignores = FaultyProvider(records=records, ignores_from=True)
    with serve_in_thread(refuses) as refusing, serve_in_thread(ignores) as ignoring:
        refused = _check(await check_member(_member(refusing + "/oai"), settings), "incremental")
        ignored = _check(await check_member(_member(ignoring + "/oai"), settings), "incremental")
    assert refused.status == "warn" and "refused" in refused.detail and "fall back" in refused.detail
    asked = [q["from"] for q in refuses.requests if "from" in q]
    assert "T" in asked[0] and "T" not in asked[1]  # declared seconds, then the day
    assert (
        ignored.status == "warn" and "ignores from" in ignored.detail and "6 of them older" in ignored.detail
    )


def test_members_check_cli_and_api(demo_base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENHOP_HOME", str(tmp_path / "home"))
    url = f"{demo_base}/TVU"
    assert lienhop("members", "add", "TVU", "--name", "Trà Vinh", "--oai-url", url).exit_code == 0
    assert lienhop("members", "add", "BAD", "--name", "Sai", "--oai-url", url, "--set", "nope").exit_code == 0
    good = lienhop("members", "check", "TVU", "--json")
    assert good.exit_code == 0, good.output
    assert {c["status"] for c in json.loads(good.stdout)["checks"]} == {"ok"}
    bad = lienhop("members", "check", "BAD")
    assert bad.exit_code == 1 and "fail" in bad.stdout and "nope" in bad.stdout
    assert lienhop("members", "check", "NOPE").exit_code == 2
    shown = json.loads(lienhop("members", "show", "TVU", "--json").stdout)
    assert shown["records"]["active"] == 0 and shown["last_harvest"] is None  # nothing was stored


@pytest.mark.asyncio
async def test_check_over_the_admin_api(
    demo_base: str, app_client: httpx.AsyncClient, store: RecordStore
) -> None:
    member = {"code": "NTTU", "name_vi": "Nguyễn Tất Thành", "oai_url": f"{demo_base}/NTTU"}
    assert (await app_client.post("/admin/members", json=member)).status_code == 201
    answer = await app_client.get("/admin/members/NTTU/check")
    assert answer.status_code == 200, answer.text
    assert [c["status"] for c in answer.json()["checks"]] == ["ok", "ok", "ok", "ok"]
    assert (await app_client.get("/admin/members/NOPE/check")).status_code == 404

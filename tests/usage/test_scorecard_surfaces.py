"""The scorecard's API (JSON, CSV), its page in both languages and its command; members' origins."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli


@pytest.mark.asyncio
async def test_scorecard_json_csv_and_page(api: httpx.AsyncClient) -> None:
    body = (await api.get("/admin/usage/scorecard", params={"year": 2025})).json()
    assert body["year"] == 2025 and [m["rank"] for m in body["members"]][:2] == [1, 2]
    wanted = {"records_active", "harvest_success_share", "days_failing", "quarantine_rate",
              "database_downloads", "lienhop_searches", "eligible_for_membership", "previous"}  # fmt: skip
    assert wanted <= set(body["members"][0])
    answer = await api.get("/admin/usage/scorecard", params={"year": 2025, "format": "csv"})
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {r["member"] for r in rows} == {m["code"] for m in body["members"]}
    vi = (await api.get("/admin/usage/scorecard/page", params={"year": 2025})).text
    en = (await api.get("/admin/usage/scorecard/page", params={"year": 2025, "lang": "en"})).text
    assert "Bảng đánh giá thành viên" in vi and 'lang="vi"' in vi
    assert "Member scorecard" in en and "Records shared" in en
    refused = await api.get("/admin/usage/scorecard", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401


def test_members_origins_and_the_scorecard_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENHOP_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    assert runner.invoke(cli, ["members", "add", "NASATI", "--name", "Cục Thông tin"]).exit_code == 0
    updated = runner.invoke(cli, ["members", "update", "NASATI", "--origin", "https://OPAC.nasati.vn/",
                                  "--origin", "http://opac2.nasati.vn:8080"])  # fmt: skip
    assert updated.exit_code == 0, updated.output
    shown = json.loads(runner.invoke(cli, ["members", "show", "NASATI", "--json"]).stdout)
    assert shown["member"]["origins"] == ["https://opac.nasati.vn", "http://opac2.nasati.vn:8080"]
    refused = runner.invoke(cli, ["members", "update", "NASATI", "--origin", "https://opac.nasati.vn/search"])
    assert refused.exit_code != 0 and "origin" in refused.output
    cleared = runner.invoke(cli, ["members", "update", "NASATI", "--origin", ""])
    assert cleared.exit_code == 0, cleared.output
    assert (
        json.loads(runner.invoke(cli, ["members", "show", "NASATI", "--json"]).stdout)["member"]["origins"]
        == []
    )

    table = runner.invoke(cli, ["usage", "scorecard", "--year", "2025"])
    assert table.exit_code == 0 and "NASATI" in table.stdout and "scorecard 2025" in table.stdout
    as_json = json.loads(
        runner.invoke(cli, ["usage", "scorecard", "--year", "2025", "--format", "json"]).stdout
    )
    assert as_json["members"][0]["code"] == "NASATI"
    as_csv = runner.invoke(cli, ["usage", "scorecard", "--year", "2025", "--format", "csv"]).stdout
    assert as_csv.startswith("year,rank,member,")

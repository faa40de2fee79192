"""``lienhop usage``: register, give credentials (the key from standard input), harvest, import, report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli

from .conftest import Sushi
from .files import database_report


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cli-home"
    monkeypatch.setenv("LIENHOP_HOME", str(folder))
    monkeypatch.setenv("LIENHOP_MAX_RETRIES", "0")
    monkeypatch.setenv("LIENHOP_REQUEST_TIMEOUT", "5")
    return folder


def lienhop(*args: str, input: str | None = None) -> object:
    return CliRunner().invoke(cli, list(args), input=input)


def ok(result: object) -> str:
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return result.stdout  # type: ignore[attr-defined,no-any-return]


def one_line_error(result: object, needle: str) -> None:
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines


def test_register_harvest_and_report(home: Path, sushi: Sushi, tmp_path: Path) -> None:
    sushi.behaviour.usage = {"LIB-KEY": {"2024-01": 300, "2024-02": 600}, "LIB-B": {"2024-02": 60}}
    for code in ("NASATI", "VNU", "HUE"):
        ok(lienhop("members", "add", code, "--name", f"Thư viện {code}"))
    added = lienhop(
        "usage", "databases", "add", "SD", "--name", "ScienceDirect", "--sushi-url", sushi.url,
        "--report", "DR", "--report", "TR", "--cost", "1,980", "--currency", "USD", "--year", "2024",
    )  # fmt: skip
    assert "DR, TR" in ok(added)
    ok(lienhop("usage", "databases", "cost", "SD", "--year", "2023", "--amount", "1500", "--currency", "USD"))
    saved = lienhop("usage", "credentials", "SD", "NASATI", "--customer-id", "LIB-KEY", "--api-key", "-",
                    input="s3cret-key-42\n")  # fmt: skip
    assert "API key" in ok(saved) and "s3cret-key-42" not in saved.output  # type: ignore[attr-defined]
    ok(lienhop("usage", "credentials", "SD", "VNU", "--customer-id", "LIB-B"))
    ok(lienhop("usage", "credentials", "SD", "HUE", "--customer-id", "LIB-2000"))
    listed = ok(lienhop("usage", "databases", "list"))
    assert "2023: 1500 USD" in listed and "2024: 1980 USD" in listed and "HUE NASATI VNU" in listed
    assert "LIB-KEY" not in listed and "s3cret" not in listed

    harvest = lienhop("usage", "harvest", "SD", "--from", "2024-01", "--to", "2024-02")
    assert harvest.exit_code == 1, harvest.output  # HUE's credentials were refused
    assert "2000" in harvest.stdout and "NASATI" in harvest.stdout  # type: ignore[attr-defined]
    problems = ok(lienhop("usage", "status", "SD", "--problems"))
    assert "unauthorized" in problems and "no_usage" not in problems

    report = json.loads(ok(lienhop("usage", "report", "--year", "2024", "--format", "json")))
    assert report["total_item_requests"] == 960 and report["monthly_average"] == 480.0
    assert report["cost_per_download"] == round(1980 / 960, 4) and report["currency"] == "USD"
    assert [(m["code"], m["total_item_requests"]) for m in report["members"]] == [
        ("NASATI", 900),
        ("VNU", 60),
    ]
    table = ok(lienhop("usage", "report", "--year", "2024"))
    assert "NASATI" in table and "960" in table and "2.0625 USD per download" in table
    assert ok(lienhop("usage", "report", "--year", "2024", "--format", "csv")).startswith("year,month,member")

    # a corrected January for NASATI, from a file: it replaces the harvested month
    fixed = tmp_path / "dr.tsv"
    fixed.write_bytes(database_report("DR", 2024, 1, [("Physics", "Regular", "Total_Item_Requests", [100])]))
    assert "1 rows" in ok(lienhop("usage", "import", "SD", "NASATI", str(fixed)))
    report = json.loads(
        ok(lienhop("usage", "report", "--year", "2024", "--member", "NASATI", "--format", "json"))
    )
    assert report["members"][0]["months"] == {"2024-01": 100, "2024-02": 600}


def test_usage_errors_are_one_line(home: Path, tmp_path: Path) -> None:
    ok(lienhop("members", "add", "NASATI", "--name", "Thư viện"))
    one_line_error(
        lienhop("usage", "databases", "add", "SD", "--name", "S", "--sushi-url", "ftp://x"), "http"
    )
    ok(lienhop("usage", "databases", "add", "SD", "--name", "S", "--sushi-url", "https://s.example.org"))
    one_line_error(
        lienhop("usage", "databases", "add", "SD", "--name", "S", "--sushi-url", "https://s.example.org"),
        "already",
    )
    one_line_error(lienhop("usage", "databases", "cost", "SD", "--year", "2024", "--amount", "abc"), "amount")
    one_line_error(lienhop("usage", "databases", "cost", "NOPE", "--year", "2024", "--amount", "1"), "NOPE")
    one_line_error(lienhop("usage", "credentials", "SD", "NOBODY", "--customer-id", "x"), "NOBODY")
    one_line_error(
        lienhop("usage", "credentials", "SD", "NASATI", "--customer-id", "x", "--api-key", "-", input=""),
        "standard input",
    )
    one_line_error(lienhop("usage", "harvest", "--from", "2024-1"), "YYYY-MM")
    one_line_error(lienhop("usage", "harvest", "--from", "2024-05", "--to", "2024-01"), "after")
    junk = tmp_path / "junk.tsv"
    junk.write_text("hello\tworld\n")
    one_line_error(lienhop("usage", "import", "SD", "NASATI", str(junk)), "Report_ID")
    one_line_error(lienhop("usage", "import", "SD", "NASATI", str(tmp_path / "none.tsv")), "no such file")

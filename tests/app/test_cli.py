"""The ``lienhop`` command: one-line errors with exit 2, harvest exit codes, demo, search, lookup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from stdnum import isbn as stdisbn
from typer.testing import CliRunner, Result

from app.cli import cli
from app.demo.generator import shared_works
from schemas.settings import Settings
from tests.app.conftest import Harvested, demo_provider
from tests.servers import free_port, serve_in_thread


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's data folder (the CLI builds its Settings from the environment)."""
    folder = tmp_path / "cli-home"
    monkeypatch.setenv("LIENHOP_HOME", str(folder))
    monkeypatch.setenv("LIENHOP_MAX_RETRIES", "0")
    monkeypatch.setenv("LIENHOP_REQUEST_TIMEOUT", "5")
    return folder


def lienhop(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_line_error(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_members_add_errors(home: Path) -> None:
    ok = lienhop("members", "add", "TLIB", "--name", "Thư viện thử", "--oai-url", "http://127.0.0.1:9/oai")
    assert ok.exit_code == 0, ok.output
    one_line_error(lienhop("members", "add", "TLIB", "--name", "Lại"), "already registered")
    one_line_error(lienhop("members", "add", "X1", "--name", "N", "--prefix", "mods"), "metadata_prefix")
    one_line_error(lienhop("members", "add", "X2", "--name", "N", "--oai-url", "ftp://x"), "oai_url", "http")
    one_line_error(lienhop("members", "add", "X3", "--name", "N", "--status", "guest"), "status")
    one_line_error(lienhop("members", "show", "NOPE"), "NOPE")
    listed = lienhop("members", "list")
    assert listed.exit_code == 0 and "TLIB" in listed.stdout


def test_observer_told_when_eligible(home: Path) -> None:
    added = lienhop(
        "members",
        "add",
        "OBS",
        "--name",
        "Quan sát",
        "--status",
        "observer",
        "--observer-since",
        "2099-01-10",
    )
    assert added.exit_code == 0, added.output
    shown = lienhop("members", "show", "OBS")
    assert shown.exit_code == 0 and "eligible for full membership on 2101-01-10" in shown.stdout


def test_harvest_exit_code_1_when_a_member_fails(home: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/oai"
    assert lienhop("members", "add", "DEAD", "--name", "Không kết nối", "--oai-url", dead).exit_code == 0
    result = lienhop("harvest", "DEAD")
    assert result.exit_code == 1, result.output
    assert "DEAD" in result.stdout and "failed" in result.stdout
    one_line_error(lienhop("harvest", "NOPE"), "NOPE")


def test_search_and_lookup(harvested: Harvested, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENHOP_HOME", str(harvested.settings.home))
    found = lienhop("search", "thu vien", "--json", "--size", "5")
    assert found.exit_code == 0, found.output
    assert '"total"' in found.stdout and "thư viện" in found.stdout.lower()
    one_line_error(lienhop("search", 'title:"unclosed'), "position")
    one_line_error(lienhop("search", "x", "--sort", "random"), "sort")
    work = shared_works()[0]
    typed = stdisbn.format(stdisbn.to_isbn10(work.isbn13))
    held = lienhop("lookup", "--isbn", typed)
    assert held.exit_code == 0, held.output
    assert all(code in held.stdout for code in work.holders) and "5 member(s) hold" in held.stdout
    titled = lienhop("lookup", "--title", work.title, "--json")
    assert titled.exit_code == 0, titled.output
    [one] = json.loads(titled.stdout)["works"]
    assert {h["code"] for h in one["holdings"]} == set(work.holders)
    hits = json.loads(found.stdout)["hits"]
    assert hits and all(h["work_id"] and h["holdings_count"] == len(h["holdings"]) > 0 for h in hits)
    one_line_error(lienhop("lookup", "--isbn", "123"), "ISBN")
    one_line_error(lienhop("lookup"), "exactly one")
    runs = lienhop("runs", "HUE")
    assert runs.exit_code == 0 and "HUE" in runs.stdout
    assert lienhop("quarantine", "HUE").exit_code == 0


def test_search_refuses_what_the_api_refuses(home: Path) -> None:
    """The CLI builds its request through the same model as the API, so it gains the API's checks."""
    one_line_error(
        lienhop("search", "x", "--year-from", "2020", "--year-to", "2010"), "year_from (2020)", "after"
    )
    one_line_error(lienhop("search", "x", "--year-from", "-5"), "year_from")
    one_line_error(lienhop("search", "x", "--size", "5000"), "size")
    assert not (home / "index").exists()  # refused before anything was opened


def test_retired_sqlite_backend_is_refused_not_replaced(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENHOP_EMBEDDED_BACKEND", "sqlite")
    one_line_error(lienhop("search", "x"), "sqlite", "retired", "use tantivy")
    with pytest.raises(ValidationError, match="retired"):
        Settings()  # the API's app factory builds the same settings


def test_demo_is_idempotent(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``lienhop demo`` against a running provider; the second run adds nothing."""
    port = free_port()
    monkeypatch.setenv("LIENHOP_PORT", str(port))
    with serve_in_thread(demo_provider(count=20), port=port):
        first = lienhop("demo")
        assert first.exit_code == 0, first.output
        assert "Using the demo provider" in first.stdout and "13 added" in first.stdout
        second = lienhop("demo")
        assert second.exit_code == 0, second.output
        assert "0 added, 0 updated" in second.stdout
    shown = lienhop("members", "show", "VASS")
    assert "eligible for full membership since 2025-09-15" in shown.stdout


def test_cli_search_json_is_the_api_answer(harvested: Harvested, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import json

    import httpx

    from app.main import create_app

    monkeypatch.setenv("LIENHOP_HOME", str(harvested.settings.home))
    query = 'title:"thư viện" year:2000..2025'
    printed = lienhop("search", query, "--json", "--size", "7")
    assert printed.exit_code == 0, printed.output

    async def from_the_api() -> dict:
        app = create_app(harvested.settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://lienhop.test") as http:
                return (await http.get("/search", params={"q": query, "size": 7})).json()

    answer = asyncio.run(from_the_api())
    cli_answer = json.loads(printed.stdout)
    for body in (cli_answer, answer):
        body.pop("took_ms")
    assert cli_answer == answer and answer["total"] > 0

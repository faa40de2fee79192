"""A forgiving search box over the harvested demo consortium: slipped words, identifiers, completions."""

from __future__ import annotations

import json

import httpx
import pytest
from stdnum import isbn as stdisbn
from typer.testing import CliRunner

from app.cli import cli
from app.demo.generator import shared_works
from search.analysis import fold, folded_text, tokens
from tests.app.conftest import Harvested


async def _title_words(client: httpx.AsyncClient) -> tuple[str, str]:
    """(a Vietnamese title of the index, three of its words naming it first, without diacritics)."""
    hits = (await client.get("/search", params={"q": "lang:vie", "size": 100, "facets": ""})).json()["hits"]
    for hit in hits:
        words = folded_text(hit["title"]).split()
        for i in range(len(words) - 2):
            q = " ".join(words[i : i + 3])
            if all(len(w) >= 3 for w in words[i : i + 3]):
                top = (await client.get("/search", params={"q": q, "size": 1, "facets": ""})).json()
                if folded_text(top["hits"][0]["title"]) == folded_text(hit["title"]):
                    return hit["title"], q
    raise AssertionError("no title named by three of its words")


@pytest.mark.asyncio
async def test_slipped_words_are_corrected_and_told(client: httpx.AsyncClient) -> None:
    title, q = await _title_words(client)
    first, *rest = q.split()
    slipped = " ".join([first[1] + first[0] + first[2:], *rest])  # two letters swapped
    body = (await client.get("/search", params={"q": slipped})).json()
    assert folded_text(body["hits"][0]["title"]) == folded_text(title)
    assert body["corrected_query"] is not None and folded_text(body["corrected_query"]) == q
    assert body["corrected_query"] != q or q == fold(q)  # spelled with the index's diacritics
    exactly = (await client.get("/search", params={"q": slipped, "correct": "false"})).json()
    assert exactly["corrected_query"] is None and exactly["total"] < body["total"]
    assert exactly["suggestion"] is not None and folded_text(exactly["suggestion"]) == q


@pytest.mark.asyncio
async def test_a_bare_isbn_finds_its_holders(client: httpx.AsyncClient) -> None:
    work = shared_works()[0]
    for typed in (stdisbn.format(work.isbn13), stdisbn.format(stdisbn.to_isbn10(work.isbn13))):
        body = (await client.get("/search", params={"q": typed, "size": 50})).json()
        # one work, every member holding it listed
        assert body["total"] == 1 and work.isbn13 in body["hits"][0]["isbn"], typed
        assert sorted(h["code"] for h in body["hits"][0]["holdings"]) == sorted(work.holders), typed


@pytest.mark.asyncio
async def test_autocomplete_fields(client: httpx.AsyncClient) -> None:
    subjects = (await client.get("/autocomplete", params={"q": "nong", "field": "subject"})).json()
    assert "Nông nghiệp" in subjects
    anywhere = (await client.get("/autocomplete", params={"q": "nghiep"})).json()
    assert anywhere and all(any(fold(w).startswith("nghiep") for w in tokens(c)) for c in anywhere)
    middle = (await client.get("/autocomplete", params={"q": "nghiep", "field": "subject"})).json()
    assert "Nông nghiệp" in middle  # the second word of a subject: the whole subject
    refused = await client.get("/autocomplete", params={"q": "nong", "field": "isbn"})
    assert refused.status_code == 422


def test_cli_no_correct(harvested: Harvested, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENHOP_HOME", str(harvested.settings.home))
    run = CliRunner().invoke
    corrected = run(cli, ["search", "nong ngheip", "--json"])
    assert corrected.exit_code == 0, corrected.output
    assert json.loads(corrected.stdout)["corrected_query"] == "nông nghiệp"
    exactly = run(cli, ["search", "nong ngheip", "--json", "--no-correct"])
    assert exactly.exit_code == 0, exactly.output
    body = json.loads(exactly.stdout)
    assert body["corrected_query"] is None and body["suggestion"] == "nông nghiệp"
    shown = run(cli, ["search", "nong ngheip"])
    assert "nông nghiệp" in shown.stdout and "--no-correct" in shown.stdout

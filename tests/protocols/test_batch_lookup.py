"""``POST /lookup``: many identifiers in one request, answered in order with the works and members
holding each; and ``lienhop lookup --file``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from schemas.settings import Settings

from .lookup_support import Catalogue, catalogue_of, isbn10, unheld_isbns


@pytest.fixture(scope="module")
def http(lienhop_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lienhop_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def known(catalogue: Settings) -> Catalogue:
    return catalogue_of(catalogue)


def _members(result: dict) -> set[str]:
    return {h["code"] for work in result["works"] for h in work["holdings"]}


def test_a_mixed_list_is_answered_in_order_with_each_holder(http: httpx.Client, known: Catalogue) -> None:
    shared = known.shared("isbn")[0]
    issn = known.held("issn")[0]
    absent = unheld_isbns(set(known.held("isbn")), 1)[0]
    asked = [isbn10(shared), "not an isbn", f"ISSN {issn}", absent, "978-0-00-000000-1", shared]

    response = http.post("/lookup", json={"identifiers": asked})

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["query"] for r in results] == asked
    first, bad, journal, nobody, bad_check, again = results
    assert (first["kind"], first["normalised"], first["error"]) == ("isbn", shared, None)
    assert _members(first) == known.holders["isbn", shared] and len(_members(first)) > 1
    work = first["works"][0]
    assert work["work_id"].startswith("w") and work["holdings_count"] == len(work["holdings"])
    assert all(r["record_id"] and r["oai_identifier"] for h in work["holdings"] for r in h["records"])
    assert bad["works"] == [] and "not an ISBN" in bad["error"]
    assert journal["kind"] == "issn" and _members(journal) == known.holders["issn", issn]
    assert nobody == {"query": absent, "kind": "isbn", "normalised": absent, "works": [], "error": None}
    assert bad_check["error"] and "ISBN" in bad_check["error"]
    assert again["works"] == first["works"]


def test_plain_text_one_identifier_a_line_answers_as_json_does(http: httpx.Client, known: Catalogue) -> None:
    values = [*known.shared("isbn")[:3], "doi:10.9999/none"]
    as_json = http.post("/lookup", json={"identifiers": values}).json()

    as_text = http.post(
        "/lookup", content="\n".join(["", *values, "  "]).encode(), headers={"Content-Type": "text/plain"}
    )

    assert as_text.status_code == 200, as_text.text
    assert as_text.json() == as_json
    assert as_json["results"][-1]["kind"] == "doi" and as_json["results"][-1]["normalised"] == "10.9999/none"


def test_a_thousand_identifiers_pass_and_one_more_is_a_413_problem(
    http: httpx.Client, known: Catalogue
) -> None:
    held = known.held("isbn")
    values = (held * (500 // len(held) + 1))[:500] + unheld_isbns(set(held), 500)

    full = http.post("/lookup", json={"identifiers": values})
    too_many = http.post("/lookup", json={"identifiers": [*values, values[0]]})
    as_text = http.post(
        "/lookup", content="\n".join([*values, values[0]]), headers={"Content-Type": "text/plain"}
    )

    assert full.status_code == 200
    results = full.json()["results"]
    assert len(results) == 1000
    assert all(r["works"] for r in results[:500]) and not any(r["works"] for r in results[500:])
    for refused in (too_many, as_text):
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"
        assert "1000" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"ids": []}', "application/json", 422),
        (b'{"identifiers": "9786049086410"}', "application/json", 422),
        (b"not json", "application/json", 422),
        (b"<isbn/>", "application/xml", 415),
        (b"\xff\xfe", "text/plain", 422),
    ],
)
def test_a_body_that_is_not_a_list_is_a_problem(
    http: httpx.Client, body: bytes, content_type: str, status: int
) -> None:
    response = http.post("/lookup", content=body, headers={"Content-Type": content_type})

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_the_openapi_document_lists_both_bodies(http: httpx.Client) -> None:
    operation = http.get("/openapi.json").json()["paths"]["/lookup"]["post"]

    assert set(operation["requestBody"]["content"]) == {"application/json", "text/plain"}
    assert {"413", "415", "422"} <= set(operation["responses"])


def test_the_cli_reads_a_list_and_writes_csv(
    catalogue: Settings, known: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIENHOP_HOME", str(catalogue.home))
    shared = known.shared("isbn")[0]
    listing = f"{isbn10(shared)}\nnonsense\n"

    result = CliRunner().invoke(cli, ["lookup", "--file", "-", "--csv"], input=listing)

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["query", "normalised", "work_id", "title", "members", "error"]
    held = [r for r in rows if r["query"] == isbn10(shared)]
    assert held and {m for r in held for m in r["members"].split(";")} == known.holders["isbn", shared]
    assert all(r["normalised"] == shared and r["work_id"] for r in held)
    (bad,) = [r for r in rows if r["query"] == "nonsense"]
    assert bad["error"] and not bad["work_id"]

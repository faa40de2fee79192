"""``GET /works/{id}?format=``: a work's fullest record with every holder (MARC 852 per holder's
record; the holders' OPAC pages among the links elsewhere), read back by the same libraries."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pymarc
import pytest

from schemas.settings import Settings

from .export_readers import READERS
from .lookup_support import Catalogue, catalogue_of


@pytest.fixture(scope="module")
def http(lienhop_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lienhop_url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def known(catalogue: Settings) -> Catalogue:
    return catalogue_of(catalogue)


@pytest.fixture(scope="module")
def shared_work(http: httpx.Client, known: Catalogue) -> dict:
    isbn = known.shared("isbn")[0]
    (result,) = http.post("/lookup", json={"identifiers": [isbn]}).json()["results"]
    (work,) = result["works"]
    assert work["holdings_count"] > 1
    return work


@pytest.mark.parametrize("format", ["marcxml", "marc"])
def test_marc_has_a_location_per_holder(http: httpx.Client, shared_work: dict, format: str) -> None:
    response = http.get(f"/works/{shared_work['work_id']}", params={"format": format})

    assert response.status_code == 200, response.text
    if format == "marcxml":
        (marc,) = pymarc.parse_xml_to_array(io.BytesIO(response.content))
    else:
        (marc,) = list(pymarc.MARCReader(response.content, to_unicode=True, force_utf8=True))
    locations = {(f.get("a"), f.get("u")) for f in marc.get_fields("852")}
    expected = {(h["code"], r["opac_url"]) for h in shared_work["holdings"] for r in h["records"]}
    assert locations == expected
    assert marc.title and marc.title.startswith((shared_work["title"] or "")[:10])


@pytest.mark.parametrize("format", ["ris", "bibtex", "csl-json", "dc"])
def test_citation_formats_read_back_with_the_holders_links(
    http: httpx.Client, shared_work: dict, format: str
) -> None:
    response = http.get(f"/works/{shared_work['work_id']}", params={"format": format})

    assert response.status_code == 200, response.text
    back = READERS[format](response.content)
    assert back.title.startswith((shared_work["title"] or "")[:10])
    if format in ("ris", "dc"):
        for holding in shared_work["holdings"]:
            for record in holding["records"]:
                assert record["opac_url"] in response.text


def test_json_stays_the_default_and_errors_are_problems(http: httpx.Client, shared_work: dict) -> None:
    assert http.get(f"/works/{shared_work['work_id']}").json()["work_id"] == shared_work["work_id"]
    assert http.get(f"/works/{shared_work['work_id']}", params={"format": "mods"}).status_code == 422
    missing = http.get("/works/w999999", params={"format": "ris"})
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"

"""The OpenAPI document tells the truth: schemathesis, with every check, over the JSON API of a real
server on loopback (harvested demo data), finds nothing.

Left out: the library protocols (``/oai``, ``/sru``, ``/openurl``, ``/sushi``, ``/opensearch.xml``),
which their own clients test, and the admin routes that start jobs or register members (their answers
are declared in the same document); ``/admin/jobs`` is in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from app.main import create_app
from schemas.settings import Settings
from tests.app.conftest import Harvested
from tests.servers import serve_in_thread


@pytest.fixture
def api_url(harvested: Harvested) -> Iterator[str]:
    """The API on loopback over the harvested demo data."""
    with serve_in_thread(create_app(harvested.settings)) as url:
        yield url


# Rules between parameters that OpenAPI cannot state (they are in the parameters' descriptions), so a
# request valid for the schema may still be a 422: exactly one of isbn/issn/doi/title (/lookup);
# year_from not after year_to, a cursor the API issued (/search); one member code (/widget/search).
CONFIG = SchemathesisConfig.from_dict(
    {
        "operations": [
            {
                "include-path-regex": "^/(lookup|search|widget/search)$",
                "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "422"]}},
            }
        ]
    }
)
# The document does not depend on the data, so it is read from an app that is never started.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(demo_provider=False)).openapi(), config=CONFIG
).exclude(path_regex=r"^/(oai|sru|openurl|sushi|opensearch\.xml)(/|$)|^/admin/(?!jobs)")


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_answers_as_its_openapi_document_says(case: Any, api_url: str) -> None:
    case.call_and_validate(base_url=api_url)


def test_errors_are_documented_as_problem_documents(settings: Settings) -> None:
    document = create_app(settings).openapi()
    html_errors = {("get", "/widget/search", "400")}  # the widget's search box shows a bad query itself
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")) and (method, path, status) not in html_errors:
                    assert list(answer["content"]) == ["application/problem+json"], (method, path, status)
    raw = document["paths"]["/records/{record_id}/raw"]["get"]["responses"]
    assert "application/xml" in raw["200"]["content"]
    assert "application/json" not in raw["200"]["content"]
    assert {"404"} <= set(raw)
    assert {"400", "422", "503"} <= set(document["paths"]["/search"]["get"]["responses"])
    assert {"401"} <= set(document["paths"]["/admin/reindex"]["post"]["responses"])

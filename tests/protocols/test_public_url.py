"""``LIENHOP_PUBLIC_URL``: the one place the feed's identifiers and the OpenSearch URLs come from."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.settings import Settings


def test_public_url_defaults_to_the_local_server() -> None:
    assert Settings().public_url == "http://localhost:8000"


def test_public_url_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENHOP_PUBLIC_URL", "https://lienhop.vista.gov.vn/")
    assert Settings().public_url == "https://lienhop.vista.gov.vn"  # no trailing slash to double up


@pytest.mark.parametrize(
    "value", ["lienhop.vista.gov.vn", "ftp://lienhop.vista.gov.vn", "http://", "https://x.vn/?a=1"]
)
def test_a_public_url_that_is_not_an_absolute_http_url_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="public_url"):
        Settings(public_url=value)

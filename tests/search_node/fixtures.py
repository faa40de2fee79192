"""Pytest fixtures of the session search node (declared by ``tests/conftest.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.search_node import start_node


@pytest.fixture(scope="session")
def search_node_url() -> Iterator[str]:
    """URL of a real search node: ``LIENHOP_TEST_ELASTICSEARCH_URL`` when set, else one started here.

    The started node lives for the whole session and is stopped at its end. Tests are the edge of the
    application, so this is the one place that reads the environment for the search node.
    """
    given = os.environ.get("LIENHOP_TEST_ELASTICSEARCH_URL", "").strip()
    if given:
        yield given.rstrip("/")
        return
    node = start_node()
    try:
        yield node.url
    finally:
        node.stop()

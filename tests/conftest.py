"""Session-wide test set-up: an isolated environment, a fresh data folder per test, the fixtures path."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from schemas.settings import Settings
from store.front import RecordStore

# Read once, before any test may clear the environment.
_FIXTURES = Settings().fixtures.resolve()
_KEEP = {"LIENHOP_FIXTURES", "LIENHOP_TEST_ELASTICSEARCH_URL"}
#: The tests' repositories are real servers on loopback, which the harvester refuses by default.
LOOPBACK = "127.0.0.0/8"

# The session-wide search node (started on first use) lives with its launcher.
pytest_plugins = ["tests.search_node.fixtures", "tests.pg.fixtures"]


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No LIENHOP_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("LIENHOP_") and key not in _KEEP:
            monkeypatch.delenv(key)
    # Settings built from the environment (the CLI's, and each test's own ``Settings(...)``) may
    # harvest the loopback test servers; a test of the refusal passes ``harvest_allow_networks=[]``.
    monkeypatch.setenv("LIENHOP_HARVEST_ALLOW_NETWORKS", LOOPBACK)
    yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh, empty data folder; fast retries so fault tests stay quick; the loopback
    test servers may be harvested."""
    return Settings(
        home=tmp_path / "var",
        backoff_base=0.05,
        max_retry_after=2.0,
        request_timeout=5.0,
        harvest_allow_networks=LOOPBACK,
    )


@pytest_asyncio.fixture
async def store(settings: Settings) -> AsyncIterator[RecordStore]:
    """A migrated, empty record store in the test's data folder."""
    opened = await RecordStore.open(settings.db_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The shared real-world fixtures (``LIENHOP_FIXTURES``); tests that need them skip without them."""
    if not (_FIXTURES / "oai").is_dir() or not (_FIXTURES / "marc").is_dir():
        pytest.skip(f"shared fixtures not found at {_FIXTURES}: set LIENHOP_FIXTURES to run this test")
    return _FIXTURES

"""Pytest fixtures of the PostgreSQL test server (declared by ``tests/conftest.py``).

``postgres_server``: one server per session (a throwaway cluster, or ``LIENHOP_TEST_DATABASE_URL``).
``postgres_url``: a fresh, empty database on it for one test, dropped afterwards.
``database_url``: parametrised, SQLite then PostgreSQL, for tests that must behave the same on both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from schemas.settings import Settings
from tests.pg import PostgresServer, PostgresUnavailable, server_from_url, start_cluster

# Read once at import, before the autouse fixture clears LIENHOP_* variables for each test. Tests are
# the edge of the application, so this is the one place that reads it.
_GIVEN_URL = os.environ.get("LIENHOP_TEST_DATABASE_URL", "").strip()
# In CI (``.ci/run`` sets LIENHOP_REQUIRE_POSTGRES=1; most CI services set CI=true) PostgreSQL must run:
# a skip there would pass the build with every PostgreSQL test unrun.
_REQUIRED = os.environ.get("LIENHOP_REQUIRE_POSTGRES", "").strip().lower() in {"1", "true", "yes"} or (
    os.environ.get("CI", "").strip().lower() == "true"
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server to create test databases on, for the whole session.

    ``LIENHOP_TEST_DATABASE_URL`` (a role allowed to create databases) is used when set; otherwise a
    cluster is initialised and started here and removed at the end. Skips when no binaries are found,
    except in CI (``LIENHOP_REQUIRE_POSTGRES=1`` or ``CI=true``), where that fails every PostgreSQL test;
    a cluster that fails to start is an error, not a skip, so a broken set-up is not silently untested.
    """
    if _GIVEN_URL:
        yield server_from_url(_GIVEN_URL)
        return
    try:
        server = start_cluster()
    except PostgresUnavailable as exc:
        if _REQUIRED:
            pytest.fail(f"PostgreSQL is required here (LIENHOP_REQUIRE_POSTGRES or CI) but: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The ``postgresql+asyncpg://`` URL of a new, empty database, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url_for(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, settings: Settings) -> str:
    """A fresh record store URL: SQLite in the test's data folder, then a new PostgreSQL database."""
    if request.param == "sqlite":
        return settings.db_url
    return str(request.getfixturevalue("postgres_url"))

"""The indexer tests run on every search backend, through the same fixture as the search suite."""

from tests.search.conftest import backend  # noqa: F401  (a fixture, used by name)

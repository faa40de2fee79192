"""Launcher of a real search node for tests and `make elasticsearch` (filled in by the search-node work)."""

"""Indexer: projects the record store into the search index (incremental feed and full rebuilds)."""

"""The protocol every search backend implements (embedded tantivy, Elasticsearch/OpenSearch).

Index lifecycle follows the alias pattern on both backends: documents live in versioned indexes; one
alias (the live index) answers queries; ``reindex`` fills a new index and swaps the alias atomically,
keeping the previous index for rollback until the next swap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from schemas.search import FacetValue, IndexDocument, SearchRequest

from .query_ast import ParsedQuery


@dataclass
class BulkReport:
    indexed: int = 0
    deleted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (doc id, reason)


@dataclass
class BackendHit:
    doc: IndexDocument
    score: float | None
    sort_values: list[object] = field(default_factory=list)


@dataclass
class BackendResult:
    total: int
    hits: list[BackendHit]
    facets: dict[str, list[FacetValue]]
    next_cursor: str | None = None


@runtime_checkable
class SearchBackend(Protocol):
    """One search engine. All methods are coroutines; ``index=None`` means the live index."""

    name: str

    async def open(self) -> None:
        """Connect, and create an empty live index when there is none."""

    async def close(self) -> None:
        """Release connections and files."""

    async def live_index(self) -> str | None:
        """Name of the versioned index behind the alias."""

    async def list_indexes(self) -> list[str]:
        """Every versioned index this backend holds, oldest first."""

    async def create_index(self) -> str:
        """Create a new, empty versioned index (not live) and return its name."""

    async def swap_alias(self, new_index: str) -> str | None:
        """Point the alias at ``new_index`` atomically; keep the previous index, drop older ones."""

    async def drop_index(self, index: str) -> None:
        """Delete a versioned index that is not live."""

    async def bulk(
        self, docs: Sequence[IndexDocument], delete_ids: Sequence[str] = (), index: str | None = None
    ) -> BulkReport:
        """Index ``docs`` (insert or replace by id) and delete ``delete_ids``."""

    async def refresh(self, index: str | None = None) -> None:
        """Make everything written so far visible to searches."""

    async def get_position(self, index: str | None = None) -> int:
        """The store change sequence this index has caught up to."""

    async def set_position(self, seq: int, index: str | None = None) -> None:
        """Record that this index holds every store change up to ``seq``."""

    async def count(self, index: str | None = None) -> int:
        """Number of documents."""

    async def get(self, doc_id: str) -> IndexDocument | None:
        """One document of the live index."""

    async def search(self, query: ParsedQuery, request: SearchRequest) -> BackendResult:
        """Run a parsed query with the request's filters, facets, sort and paging."""

    async def autocomplete(self, field: str, prefix: ParsedQuery, size: int) -> list[str]:
        """Completions from titles, subjects or author names (``field``) having a run of words that
        starts with the typed words (``search.semantics.rank_completions``)."""

    async def vocabulary(
        self, folded_prefix: str, limit: int, near: tuple[str, int] | None = None
    ) -> list[tuple[str, int]]:
        """Indexed folded terms starting with a prefix, with document frequency (spelling suggestions);
        with ``near`` (a word, an edit budget), the terms within it are enough (others may come too,
        and the word itself may not: its frequency is ``frequencies``')."""

    async def frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """Document frequency in ``text_folded`` of each of ``words`` the index holds (typo tolerance)."""

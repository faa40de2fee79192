"""Search requests and responses, and the document the indexer hands to a search backend."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SortOrder = Literal["relevance", "year_desc", "year_asc", "title"]
FACETS = ("member", "year", "type", "language", "subject")


class SearchFilters(BaseModel):
    """Exact-value filters applied on top of the query (AND between fields, OR within one)."""

    member: list[str] = Field(default_factory=list)
    type: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list)
    subject: list[str] = Field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None


class SearchRequest(BaseModel):
    q: str = ""
    filters: SearchFilters = Field(default_factory=SearchFilters)
    sort: SortOrder = "relevance"
    size: int = Field(10, ge=0)
    page: int = Field(1, ge=1)
    cursor: str | None = None
    facets: list[str] = Field(default_factory=lambda: list(FACETS))
    facet_size: int = Field(10, ge=1, le=200)
    highlight: bool = True


class FacetValue(BaseModel):
    value: str
    count: int


class Hit(BaseModel):
    id: str
    member: str
    oai_identifier: str
    title: str | None = None
    subtitle: str | None = None
    authors: list[str] = Field(default_factory=list)
    year: int | None = None
    type: str | None = None
    language: str | None = None
    isbn: list[str] = Field(default_factory=list)
    issn: list[str] = Field(default_factory=list)
    doi: list[str] = Field(default_factory=list)
    work_key: str | None = None
    score: float | None = None
    highlights: dict[str, list[str]] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    query: str
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    took_ms: int = 0
    next_cursor: str | None = None
    suggestion: str | None = None


#: The pre-analysed text fields of an IndexDocument, in the order the embedded indexes store them.
ANALYSED = (
    "title_exact",
    "title_folded",
    "author_exact",
    "author_folded",
    "subject_exact",
    "subject_folded",
    "text_exact",
    "text_folded",
)


class IndexDocument(BaseModel):
    """One record as the search backends store it.

    Display fields are kept as given; ``*_exact`` and ``*_folded`` fields hold text already analysed by
    ``search.analysis`` (space-separated tokens), so both backends match on identical tokens.
    """

    id: str
    seq: int = 0
    member: str
    oai_identifier: str
    title: str | None = None
    subtitle: str | None = None
    authors: list[str] = Field(default_factory=list)
    subjects: list[str] = Field(default_factory=list)
    abstract: str | None = None
    publisher: str | None = None
    year: int | None = None
    language: str | None = None
    type: str = "other"
    isbn: list[str] = Field(default_factory=list)
    issn: list[str] = Field(default_factory=list)
    doi: list[str] = Field(default_factory=list)
    work_key: str
    title_sort: str = ""
    title_exact: str = ""
    title_folded: str = ""
    author_exact: str = ""
    author_folded: str = ""
    subject_exact: str = ""
    subject_folded: str = ""
    text_exact: str = ""
    text_folded: str = ""

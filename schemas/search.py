"""Search requests and responses, and the document the indexer hands to a search backend.

:class:`SearchRequest` holds every rule a request must follow (known facets, year bounds and order, page
and size limits), so the API, the CLI and every backend share them: build one with
:meth:`SearchRequest.from_params` from flat parameters, or directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from .work import MemberHolding

SortOrder = Literal["relevance", "year_desc", "year_asc", "title"]
FacetName = Literal["member", "year", "type", "language", "subject"]
FACETS: tuple[FacetName, ...] = get_args(FacetName)

MAX_QUERY_LENGTH = 1000
MAX_SIZE = 1000  # the service caps it further (``search_max_size``)
MAX_PAGE = 10000
MIN_YEAR, MAX_YEAR = 0, 9999


class SearchFilters(BaseModel):
    """Exact-value filters applied on top of the query (AND between fields, OR within one)."""

    member: list[str] = Field(default_factory=list)
    type: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list)
    subject: list[str] = Field(default_factory=list)
    year_from: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)
    year_to: int | None = Field(None, ge=MIN_YEAR, le=MAX_YEAR)

    @field_validator("year_to")
    @classmethod
    def _range_in_order(cls, year_to: int | None, info: ValidationInfo) -> int | None:
        year_from = info.data.get("year_from")
        if year_to is not None and year_from is not None and year_from > year_to:
            raise ValueError(f"year_from ({year_from}) is after year_to ({year_to})")
        return year_to


class SearchRequest(BaseModel):
    q: str = Field("", max_length=MAX_QUERY_LENGTH)
    filters: SearchFilters = Field(default_factory=SearchFilters)
    sort: SortOrder = "relevance"
    size: int = Field(10, ge=0, le=MAX_SIZE)
    page: int = Field(1, ge=1, le=MAX_PAGE)
    cursor: str | None = None
    facets: list[FacetName] = Field(default_factory=lambda: list(FACETS))
    facet_size: int = Field(10, ge=1, le=200)
    highlight: bool = True
    #: Typo tolerance: when the query as typed finds fewer than 5 hits, also match words within a small
    #: edit distance (``search.fuzzy``); ``False`` searches exactly as typed.
    correct: bool = True

    @field_validator("facets", mode="before")
    @classmethod
    def _known_facets(cls, value: object) -> object:
        # Before the Literal check, for one message naming the unknown ones and the known ones.
        if isinstance(value, list | tuple):
            unknown = [str(f) for f in value if f not in FACETS]
            if unknown:
                raise ValueError(f"unknown facet {', '.join(unknown)} (known: {', '.join(FACETS)})")
        return value

    @classmethod
    def from_params(
        cls,
        q: str = "",
        *,
        size: int = 10,
        page: int = 1,
        cursor: str | None = None,
        sort: str = "relevance",
        member: Iterable[str] = (),
        type: Iterable[str] = (),
        language: Iterable[str] = (),
        subject: Iterable[str] = (),
        year_from: int | None = None,
        year_to: int | None = None,
        facets: str | None = None,
        correct: bool = True,
    ) -> SearchRequest:
        """A request from flat parameters, as the API's query string and the CLI's options give them.

        List values may repeat or be comma-separated (``member=A,B``); member codes are upper-cased;
        ``facets`` is a comma list (``None``: every facet, ``""``: none). Raises pydantic's
        ``ValidationError``, located at the field (``filters.year_to``, ``facets``...).
        """
        return cls.model_validate(
            {
                "q": q,
                "size": size,
                "page": page,
                "cursor": cursor,
                "sort": sort,
                "correct": correct,
                "facets": list(FACETS) if facets is None else split_values([facets]),
                "filters": {
                    "member": [m.upper() for m in split_values(member)],
                    "type": split_values(type),
                    "language": split_values(language),
                    "subject": split_values(subject),
                    "year_from": year_from,
                    "year_to": year_to,
                },
            }
        )


def split_values(values: Iterable[str]) -> list[str]:
    """Repeated (``member=A&member=B``) and comma-separated (``member=A,B``) values alike."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class FacetValue(BaseModel):
    value: str
    count: int


class Hit(BaseModel):
    """One work of the results: the display fields of its fullest record, the identifiers of all of
    its records, and who holds it (the holdings model of ``schemas.work``, the filter's member first).

    ``holdings`` is filled by the application (the search layer knows member codes, not names);
    ``holdings_count`` is the number of distinct members holding the work.
    """

    work_id: str
    title: str | None = None
    subtitle: str | None = None
    authors: list[str] = Field(default_factory=list)
    year: int | None = None
    type: str | None = None
    language: str | None = None
    isbn: list[str] = Field(default_factory=list)
    issn: list[str] = Field(default_factory=list)
    doi: list[str] = Field(default_factory=list)
    holdings_count: int = 0
    holdings: list[MemberHolding] = Field(default_factory=list)
    score: float | None = None
    highlights: dict[str, list[str]] = Field(default_factory=dict)


class SearchResponse(BaseModel):
    query: str
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]] = Field(default_factory=dict)
    took_ms: int = 0
    next_cursor: str | None = None
    #: Did you mean: the query with its slipped words replaced by indexed ones (fewer than 5 hits).
    suggestion: str | None = None
    #: The hits were found by correcting slipped words: the query searched, as the index spells it
    #: (``correct=false`` searches exactly as typed).
    corrected_query: str | None = None


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


class RecordRef(BaseModel):
    """One record of a work as the index keeps it (stored, never searched): enough to list it among
    the work's holdings and link it into its member's OPAC without asking the store."""

    record_id: str
    member: str
    oai_identifier: str
    local_id: str | None = None
    isbn: str | None = Field(None, description="The record's first ISBN-13 (the OPAC link's {isbn})")


class IndexDocument(BaseModel):
    """One work as the search backends store it (the search document is the work, not a record).

    ``id`` is the work id; ``member`` the codes of the members holding it (a member filter, facet and
    ``member:`` query count works); ``records`` one ``RecordRef`` per record, stored only. Display
    fields are those of the work's fullest record; ``isbn``/``issn``/``doi`` and ``subjects`` the union
    over its records. ``*_exact`` and ``*_folded`` fields hold text already analysed by
    ``search.analysis`` (space-separated tokens), so both backends match on identical tokens; they
    hold every distinct title and author name of the work's records, so each record still matches.
    """

    id: str
    seq: int = 0
    member: list[str] = Field(default_factory=list)
    records: list[RecordRef] = Field(default_factory=list)
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
    title_sort: str = ""
    title_exact: str = ""
    title_folded: str = ""
    author_exact: str = ""
    author_folded: str = ""
    subject_exact: str = ""
    subject_folded: str = ""
    text_exact: str = ""
    text_folded: str = ""

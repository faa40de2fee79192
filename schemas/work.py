"""Works: the records of the same edition held by several members, clustered into one.

A work is a connected component of records linked by *edges* (``store/works.py`` keeps them):
an identifier edge between records sharing a normalised ISBN or DOI (an ISSN only when both are
journals), a title edge between records carrying none of those (folded title + subtitle, the first
author's full folded name, the year, and the publisher when both have one), and curator overrides.

One holdings model serves every answer that says who holds something: search hits, ``/works/{id}``,
``/lookup`` and the widget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from .member import MemberStatus
from .record import Record


class HoldingRecord(BaseModel):
    """One member's record of a work, with the deep link into that member's OPAC."""

    record_id: str
    oai_identifier: str
    opac_url: str | None = None


class MemberHolding(BaseModel):
    """A member holding a work, with its records of it."""

    code: str
    name_vi: str
    name_en: str | None = None
    status: MemberStatus
    records: list[HoldingRecord] = Field(default_factory=list)


class Holdings(BaseModel):
    """The holdings model: a work and every member that holds it (the request's member first)."""

    work_id: str
    title: str | None = None
    holdings_count: int = Field(0, description="Distinct members holding the work")
    holdings: list[MemberHolding] = Field(default_factory=list)


#: Why a record belongs to its work: ``isbn:<value>``, ``doi:<value>``, ``issn:<value>``, ``title``,
#: ``curator`` (a join by a curator), or None for the record the work's explanation starts from.
JoinedBy = str


class WorkRecord(BaseModel):
    """One record of a work, as ``GET /works/{id}`` explains it."""

    record_id: str
    member: str
    isbn: list[str] = Field(default_factory=list, description="ISBN-13")
    doi: list[str] = Field(default_factory=list)
    issn: list[str] = Field(default_factory=list)
    year: int | None = None
    title: str | None = None
    joined_by: JoinedBy | None = None


class WorkOverride(BaseModel):
    """A curator's decision that survives re-clustering."""

    id: int
    kind: Literal["split", "join"]
    record_id: str = Field(description="split: the record kept apart; join: a record of the first work")
    other_record_id: str | None = Field(None, description="join: a record of the second work")
    created: str | None = None


class WorkDetail(Holdings):
    """``GET /works/{work_id}``: the holdings model plus each record and why it joined."""

    records: list[WorkRecord] = Field(default_factory=list)
    overrides: list[WorkOverride] = Field(default_factory=list)


class SplitRequest(BaseModel):
    """``POST /admin/works/split``: keep a record apart from every other."""

    record_id: str = Field(min_length=1, max_length=80)


class JoinRequest(BaseModel):
    """``POST /admin/works/join``: make two works one."""

    work_ids: list[str] = Field(min_length=2, max_length=2, description="The two works to join")


def fullness(record: Record) -> int:
    """How much a record says: the number of its descriptive fields and identifiers filled in."""
    ids = record.identifiers
    fields = (record.title, record.subtitle, record.abstract, record.publisher, record.year, record.language)
    lists = (record.authors, record.subjects, ids.isbn, ids.issn, ids.doi)
    return sum(value is not None and value != "" for value in fields) + sum(bool(values) for values in lists)


def fullest(records: Sequence[Record]) -> Record:
    """The record of a work that says most (the first of equals: the oldest, in store order)."""
    return max(records, key=fullness)  # max keeps the first of equal keys

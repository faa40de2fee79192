"""Batch lookup: who holds each of up to 1,000 identifiers (ISBN, ISSN, DOI, mixed), in the order asked.

A reading list of 500 ISBNs is one request, answered with a few set-based store queries (one per kind
of identifier, then one for the records of every work found), not 500 lookups. A line that is not a
valid identifier gets its own ``error`` and the rest of the batch is answered.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, Field

from schemas.errors import InvalidInput
from schemas.work import Holdings
from store.front import RecordStore

from ..catalog import IdentifierKind
from .identifiers import Identifier, parse_identifier
from .works import works_holdings

MAX_IDENTIFIERS = 1000


class TooManyIdentifiers(InvalidInput):
    """A batch of more identifiers than one request may carry."""

    status = 413
    title = "Too many identifiers"


class BatchLookupRequest(BaseModel):
    """``POST /lookup`` as JSON (a text/plain body is one identifier a line)."""

    identifiers: list[str] = Field(
        description=f"ISBN-10/13, ISSN or DOI, mixed, at most {MAX_IDENTIFIERS}",
        examples=[["604-908-641-9", "ISSN 1859-3100", "doi:10.54607/hcmue.2004.562"]],
    )


class LookupAnswer(BaseModel):
    """One identifier of the batch: its kind and stored form, and the works holding it."""

    query: str = Field(description="The identifier as given")
    kind: IdentifierKind | None = None
    normalised: str | None = Field(None, description="ISBN-13, NNNN-NNNX, or lower-case 10.x/y")
    works: list[Holdings] = Field(default_factory=list, description="The works whose records carry it")
    error: str | None = Field(None, description="Why this identifier could not be looked up")


class BatchLookupResponse(BaseModel):
    results: list[LookupAnswer]


def lines_of(text: str) -> list[str]:
    """The identifiers of a text/plain body or a file: one a line, blank lines skipped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_size(identifiers: list[str]) -> None:
    if len(identifiers) > MAX_IDENTIFIERS:
        raise TooManyIdentifiers(
            f"{len(identifiers)} identifiers given; one request takes at most {MAX_IDENTIFIERS}"
        )


async def batch_lookup(store: RecordStore, identifiers: list[str]) -> BatchLookupResponse:
    """Each identifier's kind, stored form and holdings, in the order given."""
    check_size(identifiers)
    parsed: list[Identifier | str] = []
    wanted: dict[IdentifierKind, set[str]] = defaultdict(set)
    for text in identifiers:
        try:
            ident = parse_identifier(text)
        except InvalidInput as exc:
            parsed.append(exc.detail)
            continue
        parsed.append(ident)
        wanted[ident.kind].add(ident.normalised)
    found: dict[tuple[IdentifierKind, str], list[str]] = {}
    for kind, values in wanted.items():
        for value, work_ids in (await store.find_works_many(kind, values)).items():
            found[kind, value] = work_ids
    works = await works_holdings(store, (w for ids in found.values() for w in ids))
    results = []
    for text, item in zip(identifiers, parsed, strict=True):
        if isinstance(item, str):
            results.append(LookupAnswer(query=text, error=item))
            continue
        ids = found.get((item.kind, item.normalised), [])
        results.append(
            LookupAnswer(
                query=text,
                kind=item.kind,
                normalised=item.normalised,
                works=[works[w] for w in ids if w in works],
            )
        )
    return BatchLookupResponse(results=results)

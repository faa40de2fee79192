"""A citation resolved to the union catalogue's works: by identifier first (DOI, ISBN, ISSN), else by
title checked against the cited author and year.

An ISBN names one edition, so it resolves to that edition's work only. A title names every edition,
so a title match is kept only when the cited year is the year of one of the work's records (or none
of them has a year) and the cited author is one of its authors: a citation of the 2015 edition never
resolves to the 2010 one. A title is looked up exactly (folded title + subtitle, as the works are
clustered), then, for a citation giving the title without its subtitle, among the hits of a title
phrase search whose own title is the one cited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from schemas.search import SearchRequest
from schemas.text import folded_text, folded_tokens
from schemas.work import Holdings
from store.front import RecordStore
from store.records import StoredRecord

from ...catalog import IdentifierKind
from ..hits import work_ids_of
from ..works import works_holdings, works_records
from .citation import Citation

if TYPE_CHECKING:
    from search.service import SearchService

ResolvedBy = Literal["doi", "isbn", "issn", "title"]
_TITLE_CANDIDATES = 20


class Resolution(BaseModel):
    """``GET /openurl`` as JSON: the citation as read, how it resolved, and the works holding it."""

    citation: Citation
    resolved_by: ResolvedBy | None = Field(None, description="What found the works (None: nothing did)")
    works: list[Holdings] = Field(default_factory=list)


async def resolve(store: RecordStore, search: SearchService | None, citation: Citation) -> Resolution:
    """The works a citation names, the likeliest first."""
    by_kind: tuple[tuple[IdentifierKind, list[str]], ...] = (
        ("doi", citation.doi),
        ("isbn", citation.isbn),
        ("issn", citation.issn),
    )
    for kind, values in by_kind:
        if not values:
            continue
        found = await store.find_works_many(kind, values)
        work_ids = list(dict.fromkeys(w for v in values for w in found[v]))
        if work_ids:
            return await _answer(store, citation, kind, work_ids)
    for title in (citation.title, citation.journal):
        if not title:
            continue
        # a journal is cited by its own title: its records' years are not the article's year
        check_year = title is citation.title
        kept = await _matching(store, await store.find_works_by_title(title), citation, check_year)
        if not kept and search is not None:
            kept = await _matching(store, await _by_title_search(store, search, title), citation, check_year)
        if kept:
            return await _answer(store, citation, "title", kept)
    return Resolution(citation=citation)


async def _answer(store: RecordStore, citation: Citation, by: ResolvedBy, work_ids: list[str]) -> Resolution:
    held = await works_holdings(store, work_ids)
    return Resolution(citation=citation, resolved_by=by, works=[held[w] for w in work_ids if w in held])


async def _by_title_search(store: RecordStore, search: SearchService, title: str) -> list[str]:
    """Works whose title without its subtitle is the one cited, from a phrase search."""
    wanted = folded_text(title)
    phrase = " ".join(folded_tokens(title))
    if not phrase:
        return []
    request = SearchRequest(q=f'title:"{phrase}"', size=_TITLE_CANDIDATES, facets=[], highlight=False)
    response = await search.search(request)
    response.hits = [h for h in response.hits if h.title and wanted in _title_forms(h.title)]
    return await work_ids_of(response, store)


def _title_forms(title: str) -> set[str]:
    """A record's title folded, whole and cut at each colon: a subtitle may sit in the title field
    ("Thư viện số: lý thuyết và thực tiễn : giáo trình") where a citation leaves it out."""
    cuts = [i for i, ch in enumerate(title) if ch == ":"]
    return {folded_text(title), *(folded_text(title[:i]) for i in cuts)}


async def _matching(
    store: RecordStore, work_ids: list[str], citation: Citation, check_year: bool
) -> list[str]:
    if not work_ids:
        return []
    held = await works_records(store, work_ids)
    return [
        w
        for w in work_ids
        if held.get(w)
        and (not check_year or _same_year(held[w], citation.year))
        and _same_author(held[w], citation.author)
    ]


def _same_year(records: list[StoredRecord], year: int | None) -> bool:
    if year is None:
        return True
    years = {s.record.year for s in records if s.record.year is not None}
    return not years or year in years


def _same_author(records: list[StoredRecord], author: str | None) -> bool:
    """Every word of the cited name in one author's name ("Nguyễn" or "Smith, J" match "John Smith"
    only by whole words; an initial matches a word it begins)."""
    if not author:
        return True
    cited = folded_tokens(author)
    if not cited:
        return True
    names = [folded_tokens(a) for s in records for a in s.record.authors]
    if not names:
        return True  # a record with no author cannot contradict the citation
    return any(all(_word_in(word, name) for word in cited) for name in names)


def _word_in(word: str, name: list[str]) -> bool:
    if len(word) == 1:
        return any(part.startswith(word) for part in name)
    return word in name

"""The search service: parse, validate paging, ask the backend (again, corrected, when the query as
typed finds too little), then add highlights and a suggestion.

Highlights and spelling suggestions are computed here, in Python, from what every backend returns, so
they are identical whichever backend answers (see ``search.semantics``).

A hit is a work. Its holdings (member names, status, OPAC links) come from the members, which this
layer cannot read (``search`` does not import the store): the application hands the service a
``HoldingsBuilder`` that turns each hit's record refs into the holdings model.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from schemas.errors import InvalidInput
from schemas.search import Hit, IndexDocument, SearchRequest, SearchResponse
from schemas.work import MemberHolding

from . import fuzzy
from .analysis import fold, folded_tokens, tokens
from .backend import BackendHit, BackendResult, SearchBackend
from .fuzzy import FEW_HITS, Correction, in_titles, meant_run, with_run
from .known_items import known_item_query
from .query import parse_query
from .query_ast import TEXT_FIELD, ParsedQuery, Term
from .semantics import (
    MAX_WINDOW,
    decode_cursor,
    highlighter,
    merge_completions,
    sign_cursor,
    verify_cursor,
)
from .suggest import chosen_words, respelled

AUTOCOMPLETE_FIELDS = ("title", "author", "subject")
#: Hits of the corrected query whose titles say which words were meant (``fuzzy.meant_run``).
_PROBE = 30
#: Query fields whose slips the titles can tell (``fuzzy.meant_run``).
TITLED = ("any", "title")
#: Hits of the corrected query asked when not correcting: the suggestion is spelled as they spell it.
_SUGGESTION_HITS = 5

# Parsing is pure and its result immutable (frozen dataclasses), and the same queries come back again
# and again: memoised (errors are not cached, so a bad query raises every time).
_parse = functools.lru_cache(maxsize=4096)(parse_query)

_Highlight = Callable[[str | None, str | None, Sequence[str]], dict[str, list[str]]]

#: Builds the holdings of each document of a result page (same order), listing the members of
#: ``first`` (the request's member filter) first. Without one, hits carry ``holdings_count`` only.
HoldingsBuilder = Callable[[Sequence[IndexDocument], Sequence[str]], Awaitable[list[list[MemberHolding]]]]

_HIT_FIELDS = frozenset(Hit.model_fields)
_new_hit = Hit.__new__
_setattr = object.__setattr__


def _trusted_hit(values: dict[str, Any]) -> Hit:
    """A ``Hit`` of ``values`` (every field, in order) without validating them again.

    Every value comes from an ``IndexDocument`` the backend validated (the same types, or narrower), a
    float score and highlights of strings: validating a page of ten again cost about 30 µs, building it
    this way 14. The instance is what validation would build (all fields set, no extras).
    """
    hit = _new_hit(Hit)
    _setattr(hit, "__dict__", values)
    _setattr(hit, "__pydantic_fields_set__", set(_HIT_FIELDS))
    _setattr(hit, "__pydantic_extra__", None)
    _setattr(hit, "__pydantic_private__", None)
    return hit


def _probe(request: SearchRequest, size: int) -> SearchRequest:
    """``request``'s query and filters asked for its first ``size`` hits by relevance, nothing else."""
    update: dict[str, object] = {
        "size": size,
        "page": 1,
        "cursor": None,
        "facets": [],
        "highlight": False,
        "sort": "relevance",
    }
    return request.model_copy(update=update)


class SearchService:
    """Search and autocomplete over one backend."""

    def __init__(
        self,
        backend: SearchBackend,
        max_size: int = 100,
        cursor_key: bytes | None = None,
        holdings: HoldingsBuilder | None = None,
    ) -> None:
        self.backend = backend
        self.max_size = max_size
        # with a key, cursors are signed: a client cannot hand the backend a cursor it did not make
        self.cursor_key = cursor_key
        self.holdings = holdings

    async def search(self, request: SearchRequest) -> SearchResponse:
        """Run a search request; ``QuerySyntaxError`` / ``InvalidInput`` for bad queries or paging.

        A whole query that is an ISBN, ISSN or DOI finds the items carrying it (``search.known_items``);
        a query finding fewer than ``FEW_HITS`` hits as typed is corrected (``search.fuzzy``) unless
        ``request.correct`` is off, and otherwise gets a did-you-mean ``suggestion``.
        """
        started = time.perf_counter()
        known = known_item_query(request.q)
        parsed = known if known is not None else _parse(request.q)
        request = self._validated(request)
        result = await self.backend.search(parsed, request)
        if known is not None and result.total == 0:  # a number that only looks like an identifier
            parsed = _parse(request.q)
            result = await self.backend.search(parsed, request)
        terms = parsed.positive_terms
        marked = terms
        suggestion = corrected = None
        if terms and result.total < FEW_HITS:
            found = await self._correct(parsed, request, result.total)
            if found is not None:
                fixed, correction, told = found
                if request.correct:
                    result, corrected = fixed, told
                    marked = terms + correction.query.positive_terms
                else:
                    suggestion = told
        highlight = highlighter(marked) if request.highlight and marked and result.hits else None
        held: Sequence[list[MemberHolding]] = ()
        if self.holdings is not None and result.hits:
            held = await self.holdings([h.doc for h in result.hits], request.filters.member)
        hits = [
            _trusted_hit(self._hit(h, highlight, held[i] if held else None))
            for i, h in enumerate(result.hits)
        ]
        return SearchResponse(
            query=request.q,
            total=result.total,
            hits=hits,
            facets=result.facets,
            took_ms=round((time.perf_counter() - started) * 1000),
            next_cursor=self._signed(result.next_cursor),
            suggestion=suggestion,
            corrected_query=corrected,
        )

    def _validated(self, request: SearchRequest) -> SearchRequest:
        size = min(request.size, self.max_size)  # the cap silently shrinks the page, as documented
        if request.cursor is not None:
            cursor = request.cursor
            if self.cursor_key is not None:
                cursor = verify_cursor(cursor, self.cursor_key)
            decode_cursor(cursor)  # fail early with InvalidInput on a mangled cursor
            return request.model_copy(update={"size": size, "cursor": cursor})
        if request.page * size > MAX_WINDOW:
            raise InvalidInput(
                f"page {request.page} of size {size} goes beyond the first {MAX_WINDOW} hits; "
                "use the cursor (next_cursor) for deep paging"
            )
        # the backend never mutates the request: copy it only when the cap changed something
        return request if size == request.size else request.model_copy(update={"size": size})

    def _signed(self, cursor: str | None) -> str | None:
        if cursor is None or self.cursor_key is None:
            return cursor
        return sign_cursor(cursor, self.cursor_key)

    @staticmethod
    def _hit(
        hit: BackendHit, highlight: _Highlight | None, held: list[MemberHolding] | None
    ) -> dict[str, Any]:
        """The fields of one ``Hit``, every one of them, in the model's order (see ``_trusted_hit``).

        ``holdings_count`` is the number of members the holdings list when they are built (a member
        no longer registered is left out of both), else the number of members the index names."""
        doc = hit.doc
        return {
            "work_id": doc.id,
            "title": doc.title,
            "subtitle": doc.subtitle,
            "authors": doc.authors,
            "year": doc.year,
            "type": doc.type,
            "language": doc.language,
            "isbn": doc.isbn,
            "issn": doc.issn,
            "doi": doc.doi,
            "holdings_count": len(doc.member) if held is None else len(held),
            "holdings": [] if held is None else held,
            "score": hit.score,
            "highlights": highlight(doc.title, doc.abstract, doc.authors) if highlight else {},
        }

    async def _correct(
        self, parsed: ParsedQuery, request: SearchRequest, found: int
    ) -> tuple[BackendResult, Correction, str] | None:
        """The corrected search of a query that found ``found`` (fewer than ``FEW_HITS``) as typed, its
        correction, and what the user is told it searched (``None``: no correction).

        Without ``request.correct`` the corrected search only says what to suggest: a few hits.
        Corrected hits are only ever shown with the correction the user is told of, and when they are
        more than those found as typed.
        """
        correction = await fuzzy.plan(parsed, self.backend)
        if correction is None:
            return None
        slipped = found == 0 or correction.slipped
        if correction.slipped:
            # A word unknown to the index is the slip: the words known to it were typed right (one
            # slip a query is the rule), so even the titles are searched with only that word fuzzy.
            correction = fuzzy.narrowed(correction)
        correction, run = await self._meant(parsed, correction, request)
        if not (slipped or run):  # hits as typed, every word known: a rare query, not a slip
            return None
        correction = fuzzy.narrowed(correction)
        asked = request if request.correct else _probe(request, _SUGGESTION_HITS)
        fixed = await self.backend.search(correction.query, asked)
        docs = [h.doc for h in fixed.hits]
        told = respelled(parsed, chosen_words(parsed, correction, docs[0] if docs else None), docs)
        if fixed.total <= found or told is None:
            return None
        return fixed, correction, told

    async def _meant(
        self, parsed: ParsedQuery, correction: Correction, request: SearchRequest
    ) -> tuple[Correction, bool]:
        """``correction`` ranking first by the run of words the first hits' titles say was meant
        (``fuzzy.meant_run``), for a query of one term of several words; and whether there was one."""
        terms = parsed.positive_terms
        if len(terms) != 1 or len(terms[0].folded) < 2 or terms[0].phrase or terms[0].field not in TITLED:
            return correction, False
        answer = await self.backend.search(in_titles(correction.query), _probe(request, _PROBE))
        titles = [folded_tokens(" ".join(t for t in (h.doc.title, h.doc.subtitle) if t)) for h in answer.hits]
        run = meant_run(terms[0].folded, titles)
        return (correction, False) if run is None else (with_run(correction, terms[0], run), True)

    async def autocomplete(self, prefix: str, field: str | None = None, size: int = 10) -> list[str]:
        """Completions of the typed words: any word of a title, subject or author name (``field``, or
        all three), diacritics optional, exact-diacritic matches first."""
        if field is not None and field not in AUTOCOMPLETE_FIELDS:
            raise InvalidInput(f"autocomplete field must be one of {', '.join(AUTOCOMPLETE_FIELDS)}")
        exact = tuple(tokens(prefix))
        if not exact or size <= 0:
            return []
        size = min(size, self.max_size)
        fields = [field] if field is not None else list(AUTOCOMPLETE_FIELDS)
        asked = []
        for name in fields:
            term = Term(TEXT_FIELD[name], exact, tuple(fold(t) for t in exact), phrase=True, prefix=True)
            parsed = ParsedQuery(root=term, text=prefix, positive_terms=(term,))
            asked.append(self.backend.autocomplete(name, parsed, size))
        found = await asyncio.gather(*asked)  # the fields side by side
        if len(found) == 1:
            return found[0]
        term = Term("any", exact, tuple(fold(t) for t in exact), phrase=True, prefix=True)
        return merge_completions(found, term, size)

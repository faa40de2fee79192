"""The search service: parse, validate paging, ask the backend, then add highlights and a suggestion.

Highlights and spelling suggestions are computed here, in Python, from what every backend returns, so
they are identical whichever backend answers (see ``search.semantics``).

A hit is a work. Its holdings (member names, status, OPAC links) come from the members, which this
layer cannot read (``search`` does not import the store): the application hands the service a
``HoldingsBuilder`` that turns each hit's record refs into the holdings model.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from schemas.errors import InvalidInput
from schemas.search import Hit, IndexDocument, SearchRequest, SearchResponse
from schemas.work import MemberHolding

from .analysis import fold, tokens
from .backend import BackendHit, SearchBackend
from .query import parse_query
from .query_ast import TEXT_FIELD, ParsedQuery, Term
from .semantics import (
    MAX_WINDOW,
    apply_corrections,
    choose_correction,
    decode_cursor,
    highlighter,
    sign_cursor,
    verify_cursor,
)

AUTOCOMPLETE_FIELDS = ("title", "author")
_VOCABULARY_SCAN = 5000  # candidate terms per misspelled word (those sharing its first letter)

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
        """Run a search request; ``QuerySyntaxError`` / ``InvalidInput`` for bad queries or paging."""
        started = time.perf_counter()
        parsed = _parse(request.q)
        request = self._validated(request)
        result = await self.backend.search(parsed, request)
        terms = parsed.positive_terms
        highlight = highlighter(terms) if request.highlight and terms and result.hits else None
        held: Sequence[list[MemberHolding]] = ()
        if self.holdings is not None and result.hits:
            held = await self.holdings([h.doc for h in result.hits], request.filters.member)
        hits = [
            _trusted_hit(self._hit(h, highlight, held[i] if held else None))
            for i, h in enumerate(result.hits)
        ]
        suggestion = None
        if result.total == 0 and terms:
            suggestion = await self.suggest(parsed)
        return SearchResponse(
            query=request.q,
            total=result.total,
            hits=hits,
            facets=result.facets,
            took_ms=round((time.perf_counter() - started) * 1000),
            next_cursor=self._signed(result.next_cursor),
            suggestion=suggestion,
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

    async def suggest(self, parsed: ParsedQuery) -> str | None:
        """The query with each word unknown to the index replaced by its closest frequent neighbour."""
        corrections: dict[str, str] = {}
        for term in parsed.positive_terms:
            for i, token in enumerate(term.folded):
                if token in corrections or (term.prefix and i == len(term.folded) - 1):
                    continue
                if await self._is_known(token):
                    continue
                candidates = await self.backend.vocabulary(token[:1], _VOCABULARY_SCAN)
                fixed = choose_correction(token, candidates)
                if fixed is not None:
                    corrections[token] = fixed
        if not corrections:
            return None
        return apply_corrections(parsed.text, corrections)

    async def _is_known(self, token: str) -> bool:
        # Terms starting with ``token`` come by frequency, so look for the token itself among them.
        return any(term == token for term, _ in await self.backend.vocabulary(token, 1000))

    async def autocomplete(self, prefix: str, field: str = "title", size: int = 10) -> list[str]:
        """Titles or author names starting with the typed words (diacritics optional)."""
        if field not in AUTOCOMPLETE_FIELDS:
            raise InvalidInput(f"autocomplete field must be one of {', '.join(AUTOCOMPLETE_FIELDS)}")
        exact = tuple(tokens(prefix))
        if not exact or size <= 0:
            return []
        size = min(size, self.max_size)
        term = Term(TEXT_FIELD[field], exact, tuple(fold(t) for t in exact), phrase=True, prefix=True)
        parsed = ParsedQuery(root=term, text=prefix, positive_terms=(term,))
        return await self.backend.autocomplete(field, parsed, size)

"""Parsed queries compiled to tantivy queries: words, phrases, prefixes and fuzzy terms, filters, and
the ranking clauses of ``search.semantics`` (memoised: the same queries come back)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import tantivy
from tantivy import Occur
from tantivy import Query as Q

from schemas.search import SearchRequest

from .query_ast import And, Keyword, Node, Not, Or, Term, YearRange
from .semantics import (
    AS_TYPED_BOOST,
    EXACT_BOOST,
    FIELD_WEIGHTS,
    PHRASE_BOOST,
    PHRASE_EXACT_BOOST,
)
from .tantivy_schema import (
    _KEYWORD_FIELD,
    _MAX_BOOSTED_TERMS,
    _SCORED,
    _STEM,
    SCHEMA,
    _escape,
)


@functools.lru_cache(maxsize=4096)
def _token(fld: str, tok: str, prefix: bool, edits: int = 0) -> Q:
    if edits:
        # Damerau (a swap of neighbours costs one edit), as the other backends' fuzzy queries.
        return Q.fuzzy_term_query(SCHEMA, fld, tok, edits, True, False)
    return Q.regex_query(SCHEMA, fld, _escape(tok) + ".*") if prefix else Q.term_query(SCHEMA, fld, tok)


def _all(queries: Sequence[Q]) -> Q:
    return queries[0] if len(queries) == 1 else Q.boolean_query([(Occur.Must, q) for q in queries])


def words_query(fld: str, toks: Sequence[str], phrase: bool, prefix: bool, fuzzy: Sequence[int] = ()) -> Q:
    """Tokens in one field: all of them (any order), or adjacent in order; the last may be a prefix;
    ``fuzzy``: per token, the edits it may be away from an indexed token (unquoted words only)."""
    if fuzzy and not phrase:
        last = len(toks) - 1
        return _all([_token(fld, t, prefix and i == last, fuzzy[i]) for i, t in enumerate(toks)])
    if not toks:
        return Q.empty_query()
    if phrase and len(toks) >= 2:
        if prefix:
            # phrase_prefix_query stops at 50 expansions; a regex phrase expands up to 16k, like the
            # other backends' "any token starting with it".
            words: list[str | tuple[int, str]] = [_escape(t) for t in toks[:-1]]
            words.append(_escape(toks[-1]) + ".*")
            return Q.regex_phrase_query(SCHEMA, fld, words)
        return Q.phrase_query(SCHEMA, fld, list(toks))
    return _all([_token(fld, t, prefix and i == len(toks) - 1) for i, t in enumerate(toks)])


def term_query(term: Term, exact: bool = False, stem: str | None = None, phrase: bool | None = None) -> Q:
    """A ``Term`` on the folded (or exact) twin of its field, or of ``stem``."""
    fld = f"{stem or _STEM[term.field]}_{'exact' if exact else 'folded'}"
    toks = term.exact if exact else term.folded
    return words_query(fld, toks, term.phrase if phrase is None else phrase, term.prefix)


def _everything_but(queries: Sequence[Q]) -> Q:
    return Q.boolean_query([(Occur.Must, Q.all_query()), *((Occur.MustNot, q) for q in queries)])


def node_query(node: Node) -> Q:
    """The matching query of any node (scores of the result are not used)."""
    if isinstance(node, Term):
        if node.fuzzy:
            fld = f"{_STEM[node.field]}_folded"
            return words_query(fld, node.folded, node.phrase, node.prefix, node.fuzzy)
        return term_query(node)
    if isinstance(node, Keyword):
        return Q.term_query(SCHEMA, _KEYWORD_FIELD[node.field], node.value)
    if isinstance(node, YearRange):
        if node.start is None and node.end is None:
            return Q.exists_query("year")
        return Q.range_query(SCHEMA, "year", tantivy.FieldType.Integer, node.start, node.end)
    if isinstance(node, And):
        pos = [node_query(i) for i in node.items if not isinstance(i, Not)]
        neg = [node_query(i.item) for i in node.items if isinstance(i, Not)]
        if not pos:
            return _everything_but(neg)
        return Q.boolean_query([*((Occur.Must, q) for q in pos), *((Occur.MustNot, q) for q in neg)])
    if isinstance(node, Or):
        return Q.boolean_query([(Occur.Should, node_query(i)) for i in node.items])
    if isinstance(node, Not):
        return _everything_but([node_query(node.item)])
    return Q.all_query()


def filter_queries(request: SearchRequest) -> list[Q]:
    """Queries of the request's filters (OR within a field, AND between)."""
    return list(_filter_queries(_filter_key(request)))


#: The request's filters as a hashable value: (member, type, language, subject, year_from, year_to).
_FilterKey = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], int | None, int | None]


def _filter_key(request: SearchRequest) -> _FilterKey:
    f = request.filters
    return (tuple(f.member), tuple(f.type), tuple(f.language), tuple(f.subject), f.year_from, f.year_to)


def _filter_queries(key: _FilterKey) -> tuple[Q, ...]:
    *lists, year_from, year_to = key
    out: list[Q] = []
    for fld, values in zip(("member", "type", "language", "subjects"), lists, strict=True):
        if values:
            out.append(Q.term_set_query(SCHEMA, fld, list(values)))
    if year_from is not None or year_to is not None:
        out.append(Q.range_query(SCHEMA, "year", tantivy.FieldType.Integer, year_from, year_to))
    return tuple(out)


def _rank_clauses(terms: Sequence[Term]) -> list[tuple[Q, float, bool]]:
    """``(query, weight, boost)`` of each scoring clause of ``search.semantics``: a match adds BM25 of
    ``query`` times ``weight``, or, for a boost, ``weight`` itself."""
    out: list[tuple[Q, float, bool]] = []
    for term in terms[:_MAX_BOOSTED_TERMS]:
        out += [(term_query(term, stem=stem), FIELD_WEIGHTS[stem], False) for stem in _SCORED[term.field]]
        if term.exact:  # a corrected word has no diacritics to reward (``search.fuzzy``)
            out.append((term_query(term, exact=True), EXACT_BOOST, True))
        if len(term.folded) >= 2:
            out.append((term_query(term, stem="title", phrase=True), PHRASE_BOOST, True))
            if term.exact:
                title_exact = term_query(term, exact=True, stem="title", phrase=True)
                out.append((title_exact, PHRASE_EXACT_BOOST, True))
    return out


def rank_queries(terms: Sequence[Term]) -> list[Q]:
    """Scoring clauses of ``search.semantics``: weighted BM25 on the folded fields plus the boosts."""
    return [
        Q.const_score_query(q, weight) if boost else Q.boost_query(q, weight)
        for q, weight, boost in _rank_clauses(terms)
    ]


@dataclass(frozen=True)
class ConstantScores:
    """How a ranking query scores when every clause adds a constant: a match's score is the sum of
    the constants of the clauses it matches, so a group of equal scores is the set of matches that
    match exactly some subsets of the clauses (``search.tantivy_results`` fetches such a group in id
    order instead of ranking the whole group)."""

    matching: Q
    clauses: tuple[tuple[Q, float], ...]  # each ranking clause and the score it adds


#: Above this many constant clauses, the subsets are too many to enumerate (2**n).
_MAX_CONSTANT_CLAUSES = 10


def constant_scores(terms: tuple[Term, ...], matching: Q) -> ConstantScores | None:
    """The ranking clauses of ``rank_queries(terms)`` and the constant score each adds, when each positive
    term is one unquoted prefix word (tantivy scores a regex match with its boost alone, as
    Elasticsearch's constant-score prefix rewrite); None when any clause scores by BM25."""
    boosted = terms[:_MAX_BOOSTED_TERMS]
    if not boosted or any(not t.prefix or t.phrase or t.fuzzy or len(t.folded) != 1 for t in boosted):
        return None
    # the BM25 clauses of such terms are regex queries: constant too (a prefix word has no phrase clause)
    clauses = tuple((q, weight) for q, weight, _ in _rank_clauses(terms))
    return ConstantScores(matching, clauses) if len(clauses) <= _MAX_CONSTANT_CLAUSES else None


@functools.lru_cache(maxsize=1024)
def compiled(
    root: Node, terms: tuple[Term, ...], filters: _FilterKey, ranked: bool, as_typed: Node | None = None
) -> tuple[Q, Q]:
    """``(matching, scored)`` queries of a parsed query and filters; memoised, as queries recur.

    ``matching`` selects the hits (and facets); ``scored`` ranks them when ``ranked``, else is ``matching``.
    ``as_typed``: the query as typed of a corrected one, whose matches rank above the others.
    """
    matching = _all([node_query(root), *_filter_queries(filters)])
    if not ranked:
        return matching, matching
    if as_typed is not None:
        ranks = [*rank_queries(terms), Q.const_score_query(node_query(as_typed), AS_TYPED_BOOST)]
        clauses = [(Occur.Must, Q.const_score_query(matching, 0.0))] + [(Occur.Should, q) for q in ranks]
        return matching, Q.boolean_query(clauses)
    return matching, scored_query(root, terms, filters, matching)


def scored_query(root: Node, terms: tuple[Term, ...], filters: _FilterKey, matching: Q) -> Q:
    """The ranking query: matches as ``matching`` (``root`` and the filters), scores as
    ``rank_queries(terms)``.

    When the first ranked term is the root or one of its top-level AND items, its own-field clause
    (BM25 in the field it matches in) selects exactly the documents that term selects, so it is required
    instead of being run twice, once to match and once to score: a phrase or a common word over a
    million documents costs about half as much. The other items and the filters are required at
    score 0, the other ranking clauses stay optional: the same documents and the same score terms,
    summed in another order (a score may differ from the sum of the clauses in another order in the
    last bit of its 32-bit float; what decides the order, the boosts, is untouched).
    """
    ranks = rank_queries(terms)
    items = list(root.items) if isinstance(root, And) else [root]
    lead = terms[0]
    if lead not in items:  # e.g. the first term sits under an OR: match, then score every clause
        return Q.boolean_query(
            [(Occur.Must, Q.const_score_query(matching, 0.0))] + [(Occur.Should, q) for q in ranks]
        )
    del items[items.index(lead)]
    own = _SCORED[lead.field].index(_STEM[lead.field])  # rank_queries puts the lead's clauses first
    clauses: list[tuple[Occur, Q]] = [(Occur.Must, ranks[own])]
    for item in items:
        if isinstance(item, Not):
            clauses.append((Occur.MustNot, node_query(item.item)))
        else:
            clauses.append((Occur.Must, Q.const_score_query(node_query(item), 0.0)))
    clauses += [(Occur.Must, Q.const_score_query(f, 0.0)) for f in _filter_queries(filters)]
    clauses += [(Occur.Should, q) for i, q in enumerate(ranks) if i != own]
    return Q.boolean_query(clauses)


# -- ordering -----------------------------------------------------------------------------------------

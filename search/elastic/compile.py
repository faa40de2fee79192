"""Compile the query AST (and a SearchRequest) into the Elasticsearch / OpenSearch query DSL.

Elasticsearch 8 and OpenSearch 2/3 understand every construct used here identically, so one compiler
serves both clients. Nothing here does I/O.

Matching and scoring are kept apart on purpose: the query tree is compiled into filter context (it
decides *which* documents match, exactly as the embedded backend does), and ranking comes only from
``should`` clauses built from the positive free-text terms (BM25 on the folded fields with field
weights, plus boosts for exact-diacritic matches and title phrases).

``search_body`` is a search as one request. ``hits_query`` is the same matching and scoring shaped so
Lucene can skip documents; ``search.elastic.plan`` splits a search into such requests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas.errors import InvalidInput
from schemas.search import SearchFilters, SearchRequest

from ..query import positive_terms
from ..query_ast import And, Keyword, MatchAll, Node, Not, Or, ParsedQuery, Term, YearRange
from ..semantics import (
    AS_TYPED_BOOST,
    EXACT_BOOST,
    FIELD_WEIGHTS,
    MAX_WINDOW,
    PHRASE_BOOST,
    PHRASE_EXACT_BOOST,
)
from .mapping import HIT_SOURCE_FIELDS

Query = dict[str, Any]

#: Text field of the query language -> stem of the indexed fields (``<stem>_folded``/``<stem>_exact``).
TEXT_FIELDS: dict[str, str] = {"any": "text", "title": "title", "author": "author", "subject": "subject"}
#: Keyword field of the query language -> indexed keyword field.
KEYWORD_FIELDS: dict[str, str] = {
    "isbn": "isbn", "issn": "issn", "doi": "doi", "member": "member", "type": "type", "lang": "language",
}  # fmt: skip
#: Which folded fields a term of each query field is BM25-scored on (weights: ``FIELD_WEIGHTS``).
SCORED_FIELDS: dict[str, tuple[str, ...]] = {
    "any": ("title", "author", "subject", "text"),
    "title": ("title",),
    "author": ("author",),
    "subject": ("subject",),
}
#: Prefix expansion cap of phrase-prefix queries (plain word prefixes are unlimited).
PHRASE_PREFIX_EXPANSIONS = 10_000
#: Facet name in requests/responses -> indexed field. Years are counted on the keyword twin of
#: ``year`` (``year.key``): a terms aggregation on global ordinals collects a match in a few
#: nanoseconds where a numeric histogram hashes every value, and over a query matching every document
#: it is read from the terms dictionary without collecting anything (35 -> 2 ms at 1M records).
FACET_FIELDS: dict[str, str] = {
    "member": "member", "type": "type", "language": "language", "subject": "subjects", "year": "year.key",
}  # fmt: skip
#: Facets are exact on one shard; over several (``LIENHOP_SEARCH_SHARDS``) each shard sends its top
#: values, so a count is exact unless a facet has more distinct values than this.
FACET_SHARD_SIZE = 1000
#: The year facet lists every year: more buckets than distinct years can exist in a catalogue.
YEAR_BUCKETS = 10_000


# -------------------------------------------------------------------------------------- matching


def term_query(term: Term, tokens: Sequence[str], field: str, boost: float | None = None) -> Query:
    """``tokens`` in ``field`` in the term's mode: all words (any order), a phrase, and/or a prefix."""
    text = " ".join(tokens)
    options: dict[str, Any] = {"query": text}
    if boost is not None:
        options["boost"] = boost
    if term.phrase and len(tokens) > 1:
        if term.prefix:
            return {"match_phrase_prefix": {field: {**options, "max_expansions": PHRASE_PREFIX_EXPANSIONS}}}
        return {"match_phrase": {field: options}}
    # The scoring variants leave the operator at OR: every matching word adds its BM25 share.
    if boost is None:
        options["operator"] = "and"
    if term.prefix:
        # The last token becomes a real (unbounded) prefix query; the others must all occur.
        return {"match_bool_prefix": {field: options}}
    return {"match": {field: options}}


def fuzzy_query(token: str, field: str, edits: int) -> Query:
    """A folded token within ``edits`` of an indexed one (Damerau: transpositions on), unscored.

    The constant-score rewrite expands to every such term (the default keeps the top 50), as
    tantivy's fuzzy term query does.
    """
    options = {"value": token, "fuzziness": edits, "transpositions": True, "prefix_length": 0}
    return {"fuzzy": {field: {**options, "rewrite": "constant_score"}}}


def compile_term(term: Term) -> Query:
    """Which documents a text term matches: its folded tokens in the folded field of its field."""
    if not term.folded:
        return {"match_all": {}}
    field = f"{TEXT_FIELDS[term.field]}_folded"
    if term.fuzzy and not term.phrase:  # typo tolerance (``search.fuzzy``): each word on its own
        last = len(term.folded) - 1
        words: list[Query] = []
        for i, (token, edits) in enumerate(zip(term.folded, term.fuzzy, strict=True)):
            if term.prefix and i == last:
                words.append({"prefix": {field: token}})
            elif edits:
                words.append(fuzzy_query(token, field, edits))
            else:
                words.append({"term": {field: token}})
        return words[0] if len(words) == 1 else {"bool": {"filter": words}}
    return term_query(term, term.folded, field)


def compile_node(node: Node) -> Query:
    """Compile one AST node into a query that decides matching (scores are not used)."""
    if isinstance(node, Term):
        return compile_term(node)
    if isinstance(node, Keyword):
        return {"term": {KEYWORD_FIELDS[node.field]: node.value}}
    if isinstance(node, YearRange):
        bounds: dict[str, int] = {}
        if node.start is not None:
            bounds["gte"] = node.start
        if node.end is not None:
            bounds["lte"] = node.end
        # Documents without a year never match a year range, open or not.
        return {"range": {"year": bounds}} if bounds else {"exists": {"field": "year"}}
    if isinstance(node, And):
        return {"bool": {"filter": [compile_node(item) for item in node.items]}}
    if isinstance(node, Or):
        return {"bool": {"should": [compile_node(item) for item in node.items], "minimum_should_match": 1}}
    if isinstance(node, Not):
        # A bool with only must_not matches every other document: a NOT-only query is "all except".
        return {"bool": {"must_not": [compile_node(node.item)]}}
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    raise TypeError(f"unknown query node {node!r}")


def filter_clauses(filters: SearchFilters) -> list[Query]:
    """Request filters: OR within a field (``terms``), AND between fields; never scored."""
    clauses: list[Query] = []
    for name, field in (("member", "member"), ("type", "type"), ("language", "language")):
        values = getattr(filters, name)
        if values:
            clauses.append({"terms": {field: list(values)}})
    if filters.subject:
        clauses.append({"terms": {"subjects": list(filters.subject)}})
    if filters.year_from is not None or filters.year_to is not None:
        bounds: dict[str, int] = {}
        if filters.year_from is not None:
            bounds["gte"] = filters.year_from
        if filters.year_to is not None:
            bounds["lte"] = filters.year_to
        clauses.append({"range": {"year": bounds}})
    return clauses


# --------------------------------------------------------------------------------------- ranking


def _constant(query: Query, boost: float) -> Query:
    return {"constant_score": {"filter": query, "boost": boost}}


def relevance_clauses(terms: Sequence[Term]) -> list[Query]:
    """``should`` clauses that rank the positive free-text terms (``search.semantics``, Relevance).

    Weighted BM25 on the folded fields, plus constant boosts, large on purpose so that they and not
    BM25 details decide the order: ``EXACT_BOOST`` when the exact tokens match the exact twin of the
    term's field (same mode), ``PHRASE_BOOST`` / ``PHRASE_EXACT_BOOST`` for a term of two or more
    tokens found as a phrase (same prefix mode) in ``title_folded`` / ``title_exact``.
    """
    clauses: list[Query] = []
    for term in terms:
        if not term.folded:
            continue
        # A corrected term (``search.fuzzy``) has no exact words: no diacritics to reward.
        exact = term.exact
        for stem in SCORED_FIELDS[term.field]:
            clauses.append(term_query(term, term.folded, f"{stem}_folded", boost=FIELD_WEIGHTS[stem]))
        stem = TEXT_FIELDS[term.field]
        if exact:
            clauses.append(_constant(term_query(term, exact, f"{stem}_exact"), EXACT_BOOST))
        if len(term.folded) > 1:
            as_phrase = Term(term.field, term.exact, term.folded, phrase=True, prefix=term.prefix)
            clauses.append(_constant(term_query(as_phrase, term.folded, "title_folded"), PHRASE_BOOST))
            if exact:
                clauses.append(_constant(term_query(as_phrase, exact, "title_exact"), PHRASE_EXACT_BOOST))
    return clauses


def ranking_clauses(query: ParsedQuery) -> list[Query]:
    """``relevance_clauses`` of the query's terms, and for a corrected query (``search.fuzzy``) the
    ``AS_TYPED_BOOST`` of the documents matching it as typed."""
    clauses = relevance_clauses(query.positive_terms)
    if query.as_typed is not None:
        clauses.append(_constant(compile_node(query.as_typed), AS_TYPED_BOOST))
    return clauses


def sort_clause(sort: str) -> list[Any]:
    """Sort keys of a request's order; ``id`` always closes it, so ties and cursors are deterministic."""
    if sort == "relevance":
        keys: list[Any] = [{"_score": {"order": "desc"}}]
    elif sort == "year_desc":
        keys = [{"year": {"order": "desc", "missing": "_last"}}]
    elif sort == "year_asc":
        keys = [{"year": {"order": "asc", "missing": "_last"}}]
    elif sort == "title":
        keys = [{"title_sort": {"order": "asc"}}]
    else:
        raise InvalidInput(f"unknown sort order {sort!r}")
    return [*keys, {"id": {"order": "asc"}}]


def aggregations(facets: Sequence[str], facet_size: int) -> dict[str, Any]:
    """Facet aggregations: top ``facet_size`` values by count (ties by value); every year ascending."""
    aggs: dict[str, Any] = {}
    for facet in facets:
        field = FACET_FIELDS[facet]  # facet names are checked by the request's model
        if facet == "year":
            # Every year (keys are strings: ``result_from_answer`` orders them as numbers).
            aggs[facet] = {"terms": {"field": field, "size": YEAR_BUCKETS, "order": {"_key": "asc"}}}
        else:
            aggs[facet] = {
                "terms": {
                    "field": field,
                    "size": facet_size,
                    "shard_size": max(FACET_SHARD_SIZE, facet_size),
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
    return aggs


def search_body(
    query: ParsedQuery, request: SearchRequest, search_after: Sequence[object] | None = None
) -> dict[str, Any]:
    """The complete search body of a request.

    One hit more than the page is asked for: its presence says whether a next cursor is due.
    """
    body: dict[str, Any] = {
        "query": {
            "bool": {
                "filter": [compile_node(query.root), *filter_clauses(request.filters)],
                "should": ranking_clauses(query),
            }
        },
        "sort": sort_clause(request.sort),
        "track_total_hits": True,
        "size": request.size + 1 if request.size else 0,
        # Only what a hit shows: the analysed twins would triple the bytes read, sent and decoded.
        "_source": list(HIT_SOURCE_FIELDS) if request.size else False,
    }
    if search_after is not None:
        body["search_after"] = list(search_after)
    elif request.size:
        start = (request.page - 1) * request.size
        if start + request.size > MAX_WINDOW:
            raise InvalidInput(
                f"page {request.page} of size {request.size} is beyond the first {MAX_WINDOW} hits: "
                "use the cursor to page further"
            )
        body["from"] = start
    if request.facets:
        body["aggs"] = aggregations(request.facets, request.facet_size)
    return body


# ------------------------------------------------------------------------- the pruning shape


def _has_term(node: Node) -> bool:
    """Whether a free-text term occurs in ``node`` outside a NOT."""
    if isinstance(node, Term):
        return True
    if isinstance(node, And | Or):
        return any(_has_term(item) for item in node.items)
    return False


def _self_covering(node: Node) -> bool:
    """Whether ``node`` matches exactly the documents matched by its own relevance clauses.

    True for a one-word term (plain, prefix or one-word phrase), for a phrase (not a phrase prefix),
    and for an OR of such nodes: a word or phrase in a field's ``*_folded`` twin is in ``text_folded``
    too (``text`` = title + subtitle + authors + subjects + abstract + publisher, joined in that order),
    and exact tokens are the unfolded forms of the folded ones at the same positions
    (``search.semantics``, Analysis), so the union of the ``should`` clauses is the match set. Not
    for several unquoted words (all must occur, each scores alone) nor a phrase prefix (expansions are
    capped per field, so another field may expand to a word the matching field does not).
    """
    if isinstance(node, Term):
        if node.fuzzy:  # matched within edits, ranked by the corrected words: the clauses cover less
            return False
        return len(node.folded) == 1 or (node.phrase and not node.prefix)
    if isinstance(node, Or):
        # Alternatives matching alike ("cơ OR có": both "co") are merged by Lucene with the scoring
        # clauses, which changes how it sums the scores: such a query keeps its filter.
        compiled = [json.dumps(compile_node(item), sort_keys=True) for item in node.items]
        return len(set(compiled)) == len(compiled) and all(_self_covering(item) for item in node.items)
    return False


def _summed_as_before(core: Node, should: list[Query]) -> list[Query]:
    """``should`` grouped so the engine adds the clause scores as it does for ``search_body``.

    In ``search_body`` a lone term whose own field is scored with weight 1 (``any`` -> ``text_folded``)
    filters with the very query it scores with: Lucene merges the two into one required scoring
    clause and adds the other clauses' sum to it, ``own + (sum of the others)`` in float. A flat
    disjunction adds everything at once, which can differ in the last bit and so swap two nearly
    equal hits (or move a cursor). The others are kept as one clause by a ``function_score`` without
    functions (Lucene would merge a nested bool into the outer one): the same float sums, bit for bit.
    The wrapper hides the others' maximum scores, so it prunes less than a flat disjunction would,
    but still far more than ``search_body``.
    """
    if not isinstance(core, Term):
        return should  # an OR is filtered as such: nothing merges, the sum is flat there too
    stem = TEXT_FIELDS[core.field]
    if FIELD_WEIGHTS[stem] != 1.0:
        return should  # a boosted scoring clause differs from the filter: nothing merges
    own = term_query(core, core.folded, f"{stem}_folded", boost=FIELD_WEIGHTS[stem])
    others = [clause for clause in should if clause != own]
    if len(others) == len(should) or not others:
        return should
    return [own, {"function_score": {"query": {"bool": {"should": others}}}}]


#: Keyword fields holding at most one value per document (``IndexDocument``): ``NOT field:v`` is
#: then the same as "a value below v, a value above v, or none". Not ``member``: a work held by
#: several members has several, and one of them other than v would not exclude it.
SINGLE_VALUED = frozenset({"type", "lang"})


def _excludable(node: Node) -> Keyword | None:
    """``node`` when ``NOT node`` can be the positive filter of ``_all_but``, else ``None``."""
    return node if isinstance(node, Keyword) and node.field in SINGLE_VALUED else None


def _all_but(node: Keyword) -> Query:
    """The documents whose single-valued keyword field is not ``node.value`` (or is missing).

    The same documents as ``must_not`` of the term, but as a filter: a ``must_not`` beside scoring
    clauses stops Lucene from skipping documents that cannot reach the page, a filter does not.
    """
    field = KEYWORD_FIELDS[node.field]
    return {
        "bool": {
            "should": [
                {"range": {field: {"lt": node.value}}},
                {"range": {field: {"gt": node.value}}},
                {"bool": {"must_not": [{"exists": {"field": field}}]}},
            ],
            "minimum_should_match": 1,
        }
    }


def hits_query(query: ParsedQuery, filters: SearchFilters) -> Query:
    """The query of the hits request: ``search_body``'s matching and scoring, shaped so Lucene can prune.

    A bool with a ``filter`` and optional ``should`` clauses must score every filtered document. When
    the query's words are one-word terms or phrases (joined by OR, possibly ANDed with NOTs, keywords
    or years) the ``should`` clauses themselves match exactly those documents (``_self_covering``): the bool
    becomes a disjunction with ``minimum_should_match: 1`` that MaxScore can skip through. Same
    matches, and the same scores to the last bit (``_summed_as_before``).
    """
    should = ranking_clauses(query)
    extra = filter_clauses(filters)
    root = query.root
    items = list(root.items) if isinstance(root, And) else [root]
    core = [item for item in items if _has_term(item)]
    # The scoring terms must all come from the core (a doubly negated term elsewhere would otherwise
    # let its own clauses satisfy ``minimum_should_match``).
    if (
        should
        and len(core) == 1
        and query.as_typed is None
        and _self_covering(core[0])
        and tuple(positive_terms(core[0])) == tuple(query.positive_terms)
    ):
        rest = [item for item in items if item is not core[0]]
        shaped: dict[str, Any] = {"should": _summed_as_before(core[0], should), "minimum_should_match": 1}
        negations = [item.item for item in rest if isinstance(item, Not)]
        excluded = [kw for kw in map(_excludable, negations) if kw is not None]
        negated = [compile_node(item) for item in negations if _excludable(item) is None]
        required = [compile_node(item) for item in rest if not isinstance(item, Not)] + extra
        required += [_all_but(kw) for kw in excluded]
        if required:
            shaped["filter"] = required
        if negated:
            shaped["must_not"] = negated
        return {"bool": shaped}
    return {"bool": {"filter": [compile_node(root), *extra], "should": should}}


# ------------------------------------------------------------------------- autocomplete, vocabulary


def prefix_term(query: ParsedQuery) -> Term | None:
    """The typed words of an autocomplete query as one term (every positive term, in order)."""
    terms = list(query.positive_terms)
    if not terms:
        stack: list[Node] = [query.root]
        while stack:
            node = stack.pop(0)
            if isinstance(node, Term):
                terms.append(node)
            elif isinstance(node, And | Or):
                stack[:0] = list(node.items)
    folded = tuple(t for term in terms for t in term.folded)
    if not folded:
        return None
    exact = tuple(t for term in terms for t in (term.exact or term.folded))
    return Term(terms[0].field, exact, folded, phrase=True, prefix=True)


#: Autocomplete field -> (stem of its analysed fields, ``_source`` field its values come from).
COMPLETED: dict[str, tuple[str, tuple[str, ...]]] = {
    "title": ("title", ("title", "subtitle")),
    "author": ("author", ("authors",)),
    "subject": ("subject", ("subjects",)),
}


def autocomplete_body(field: str, term: Term, size: int) -> dict[str, Any]:
    """Candidates for autocomplete: documents whose ``field`` holds the typed words anywhere, as a
    phrase whose last word is a prefix (``search.semantics.rank_completions`` then picks the run).

    Score 1 when the exact (diacritic) words match too, else 0; equal scores in the index's order, as
    tantivy reads its first candidates. Not by id: a prefix of two letters matches most titles, and a
    tie broken by id had the engine sort every match, where in the index's order it stops once it
    holds ``size`` exact matches.
    """
    if field not in COMPLETED:
        raise InvalidInput(f"autocomplete works on title, author or subject, not {field!r}")
    stem, source = COMPLETED[field]
    as_phrase = Term(term.field, term.exact, term.folded, phrase=True, prefix=True)
    folded = term_query(as_phrase, term.folded, f"{stem}_folded")
    exact = term_query(as_phrase, term.exact or term.folded, f"{stem}_exact")
    return {
        "size": size,
        "_source": list(source),
        "track_total_hits": False,
        "query": {"bool": {"filter": [folded], "should": [_constant(exact, 1.0)]}},
    }


def near_words_body(word: str, prefix_length: int, edits: int, limit: int) -> dict[str, Any]:
    """The words of ``text_folded`` within ``edits`` (Damerau: a swap of neighbours is one edit, 1 or 2)
    of ``word`` sharing its first ``prefix_length`` letters, with document frequency, ``word`` itself
    left out: Lucene's spell checker reads them from the term dictionary (a term suggester with every
    threshold off), where ``vocabulary_body`` walks the words of every document holding one of them.
    """
    options = {
        "field": "text_folded",
        "analyzer": "whitespace",  # the words arrive analysed (search.analysis)
        "max_edits": edits,
        "prefix_length": prefix_length,
        "suggest_mode": "always",
        "size": max(1, limit),
        "min_word_length": 1,
        "accuracy": 0.0,
        "max_term_freq": 1.0,  # 100%: a frequent word is asked about too
        "min_doc_freq": 0,
        "sort": "frequency",
    }
    return {"size": 0, "track_total_hits": False, "suggest": {"near": {"text": word, "term": options}}}


def vocabulary_body(folded_prefix: str, limit: int, near: tuple[str, int] | None = None) -> dict[str, Any]:
    """Terms of ``text_folded`` starting with a prefix, most frequent first (document frequency).

    ``near`` (a word and an edit budget): only the documents holding a word within it are walked; the
    words within it are still counted exactly (each of their documents is among them).
    """
    # Lucene regular expressions: escape everything but letters and digits.
    pattern = "".join(ch if ch.isalnum() else "\\" + ch for ch in folded_prefix) + ".*"
    body: dict[str, Any] = {
        "size": 0,
        "track_total_hits": False,
        "aggs": {
            "words": {
                "terms": {
                    "field": "text_words",
                    "include": pattern,
                    "size": max(1, limit),
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
        },
    }
    if near is not None:
        body["query"] = {"bool": {"filter": [fuzzy_query(near[0], "text_folded", near[1])]}}
    return body

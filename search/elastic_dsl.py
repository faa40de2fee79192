"""Pure compiler from the query AST (and a SearchRequest) to the Elasticsearch / OpenSearch query DSL.

Elasticsearch 8 and OpenSearch 2/3 understand every construct used here identically, so one compiler
serves both clients. Nothing here does I/O; ``search.elastic`` sends what these functions build.

Matching and scoring are kept apart on purpose: the query tree is compiled into filter context (it
decides *which* documents match, exactly as the embedded backend does), and ranking comes only from
``should`` clauses built from the positive free-text terms (BM25 on the folded fields with field
weights, plus boosts for exact-diacritic matches and title phrases).

``search_body`` is a search as one request; the backend sends its ``search_plan`` instead: the same
clauses split into a hits request shaped so Lucene can skip documents (``hits_query``, ``tiers``) and
unscored requests for the total and the facets, with the same hits, scores, totals and facet counts.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from schemas.errors import InvalidInput
from schemas.search import IndexDocument, SearchFilters, SearchRequest

from . import analysis
from .query import positive_terms
from .query_ast import And, Keyword, MatchAll, Node, Not, Or, ParsedQuery, Term, YearRange
from .semantics import EXACT_BOOST, FIELD_WEIGHTS, MAX_WINDOW, PHRASE_BOOST, PHRASE_EXACT_BOOST

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
#: Facets are exact on the single-shard index; this keeps them exact if someone adds shards.
FACET_SHARD_SIZE = 1000
#: The year facet lists every year: more buckets than distinct years can exist in a catalogue.
YEAR_BUCKETS = 10_000
#: One single-valued keyword per document, the JSON list ``[member, type, language]``: one terms
#: aggregation on it, split and summed client-side (``split_tuple``), gives these three facets. It
#: reads one ordinal per matching document where three aggregations read three (at 1M records, a
#: query matching 830k documents: ~35 -> ~15 ms of engine CPU for the three facets).
FACET_TUPLE_FIELD = "facet_tuple"
TUPLE_FACETS = ("member", "type", "language")
#: Buckets asked of the tuple aggregation: every distinct combination (~100 at 1M bench records, at
#: most members x types x languages). Fewer buckets than combinations is noticed (their counts do not
#: add up to the total) and answered by the separate aggregations instead (``tuple_complete``).
TUPLE_BUCKETS = 10_000
#: Fields added to the stored document for the engine only (kept out of ``_source``).
DERIVED_FIELDS = (
    "text_words", "title_len", "author_starts_exact", "author_starts_folded", FACET_TUPLE_FIELD,
)  # fmt: skip
#: Keyword twins used by autocomplete's anchored prefix queries (longer strings are not completed).
STARTS_MAX = 1024
#: The stored fields a search hit is built from: what ``Hit`` shows plus ``abstract`` for its highlight.
#: The analysed ``*_exact``/``*_folded`` twins, ``title_sort``, ``subjects`` and ``publisher`` are never
#: fetched for a result page (about two thirds of a hit's bytes): matching is done, only display is left.
HIT_SOURCE_FIELDS = (
    "id", "member", "oai_identifier", "title", "subtitle", "authors", "year", "type", "language",
    "isbn", "issn", "doi", "work_key", "abstract",
)  # fmt: skip
#: While a new version is being filled nobody searches it: no periodic refresh (``refresh_interval``
#: -1) saves the engine a segment flush every second; the backend restores the default before it
#: refreshes the index or makes it live.
BUILD_SETTINGS: dict[str, Any] = {"refresh_interval": "-1"}

ANALYZER = "lienhop_tokens"


# --------------------------------------------------------------------------------------- index body


def index_body(position: int = 0, building: bool = False) -> dict[str, Any]:
    """Settings and mappings of one versioned index (``_meta.position`` is the indexer position).

    ``building``: the index is being filled before it goes live (``BUILD_SETTINGS`` added).
    """
    folded_text = {"type": "text", "analyzer": ANALYZER}
    # The exact twins only decide constant boosts (never BM25): no length norms to store and load.
    exact_text = {**folded_text, "norms": False}
    stored_only = {"type": "text", "index": False}
    keyword = {"type": "keyword"}
    # Facet fields: global ordinals are built when a refresh publishes new segments, not by the first
    # search after it.
    facet = {"type": "keyword", "eager_global_ordinals": True}
    properties: dict[str, Any] = {
        "id": keyword,
        "seq": {"type": "long"},
        "member": facet,
        "oai_identifier": keyword,
        "title": stored_only,
        "subtitle": stored_only,
        "authors": stored_only,
        "subjects": facet,
        "abstract": stored_only,
        "publisher": stored_only,
        "year": {"type": "integer", "fields": {"key": facet}},
        "language": facet,
        "type": facet,
        "isbn": keyword,
        "issn": keyword,
        "doi": keyword,
        "work_key": keyword,
        "title_sort": keyword,
        # One keyword per distinct folded word: the vocabulary (spelling suggestions) is a terms
        # aggregation on it, which needs no fielddata and works the same on Elasticsearch and OpenSearch.
        "text_words": keyword,
        "title_len": {"type": "integer"},
        # Only aggregated, never searched: doc values without an inverted index.
        FACET_TUPLE_FIELD: {**facet, "index": False},
    }
    for stem in ("title", "author", "subject", "text"):
        properties[f"{stem}_exact"] = exact_text
        properties[f"{stem}_folded"] = folded_text
    # Autocomplete anchors prefixes at the start of a title or author name: keyword twins.
    starts = {"type": "keyword", "ignore_above": STARTS_MAX}
    for variant in ("exact", "folded"):
        properties[f"title_{variant}"] = {**properties[f"title_{variant}"], "fields": {"starts": starts}}
        properties[f"author_starts_{variant}"] = starts
    settings: dict[str, Any] = {
        "number_of_shards": 1,
        # One node, and a lost index is rebuilt from the store: a replica would only double the writes.
        "number_of_replicas": 0,
        **(BUILD_SETTINGS if building else {}),
    }
    return {
        "settings": {
            **settings,
            "analysis": {
                # Tokens arrive analysed (lower-cased, folded) by search.analysis; the engine only splits
                # them on spaces again, so its token streams equal the embedded backend's. No filter at
                # all: even ``lowercase`` could disagree with Python's lower() on rare code points.
                "analyzer": {ANALYZER: {"type": "custom", "tokenizer": "whitespace", "filter": []}}
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {"position": position},
            "_source": {"excludes": list(DERIVED_FIELDS)},
            "properties": properties,
        },
    }


#: ``analysis.fold`` memoised: author names repeat across records (and a name's words more so).
_fold = functools.lru_cache(maxsize=1 << 16)(analysis.fold)


def facet_tuple(doc: IndexDocument) -> str:
    """The ``FACET_TUPLE_FIELD`` value of a document (JSON keeps any value, and a missing one, apart)."""
    return json.dumps([doc.member, doc.type, doc.language], ensure_ascii=False, separators=(",", ":"))


def _derived(doc: IndexDocument, with_tuple: bool = True) -> dict[str, Any]:
    """The engine-only fields of a document (``DERIVED_FIELDS``).

    ``with_tuple``: the target index maps ``FACET_TUPLE_FIELD`` (an index built before it does not, and
    its strict mapping would refuse the document).
    """
    exact: list[str] = []
    folded: list[str] = []
    for name in doc.authors:
        # exact_text / folded_text of the name, tokenised once for both.
        toks = analysis.tokens(name)
        exact.append(" ".join(toks))
        folded.append(" ".join([_fold(t) for t in toks]))
    derived: dict[str, Any] = {
        "text_words": sorted(set(doc.text_folded.split())),
        "title_len": len(doc.title or ""),
        "author_starts_exact": exact,
        "author_starts_folded": folded,
    }
    if with_tuple:
        derived[FACET_TUPLE_FIELD] = facet_tuple(doc)
    return derived


def to_source(doc: IndexDocument) -> dict[str, Any]:
    """The stored form of a document: its fields (``None`` ones left out) plus the engine-only ones."""
    source = doc.model_dump(mode="json", exclude_none=True)
    source.update(_derived(doc))
    return source


def source_json(doc: IndexDocument, with_tuple: bool = True) -> str:
    """``to_source(doc)`` serialised to JSON, the way bulk indexing sends it.

    Serialised once, by pydantic's Rust serialiser, with the derived fields spliced in: the bulk helpers
    pass strings through untouched, so the slower stdlib encoder never sees a document, and non-ASCII
    text travels as UTF-8 rather than six-byte ``\\u`` escapes. ``with_tuple``: as in ``_derived``.
    """
    fields = doc.model_dump_json(exclude_none=True)
    derived = json.dumps(_derived(doc, with_tuple), ensure_ascii=False, separators=(",", ":"))
    return f"{fields[:-1]},{derived[1:]}"  # both are objects, and ``fields`` is never empty (id)


def from_source(source: dict[str, Any]) -> IndexDocument:
    """An ``IndexDocument`` from a hit's ``_source`` (derived fields ignored), validated."""
    return IndexDocument.model_validate({k: v for k, v in source.items() if k not in DERIVED_FIELDS})


def hit_document(source: dict[str, Any]) -> IndexDocument:
    """An ``IndexDocument`` of a search hit's ``_source`` (``HIT_SOURCE_FIELDS``; the rest defaults).

    Validated as is, without copying: pydantic-core's validation of a small dict (about 3 us) is
    cheaper than ``model_construct`` (about 10 us, and 100 us when a list field is missing, since it
    inspects the default factory's signature on every call).
    """
    return IndexDocument.model_validate(source)


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


def compile_term(term: Term) -> Query:
    """Which documents a text term matches: its folded tokens in the folded field of its field."""
    if not term.folded:
        return {"match_all": {}}
    return term_query(term, term.folded, f"{TEXT_FIELDS[term.field]}_folded")


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
        exact = term.exact or term.folded
        for stem in SCORED_FIELDS[term.field]:
            clauses.append(term_query(term, term.folded, f"{stem}_folded", boost=FIELD_WEIGHTS[stem]))
        stem = TEXT_FIELDS[term.field]
        clauses.append(_constant(term_query(term, exact, f"{stem}_exact"), EXACT_BOOST))
        if len(term.folded) > 1:
            as_phrase = Term(term.field, term.exact, term.folded, phrase=True, prefix=term.prefix)
            clauses.append(_constant(term_query(as_phrase, term.folded, "title_folded"), PHRASE_BOOST))
            clauses.append(_constant(term_query(as_phrase, exact, "title_exact"), PHRASE_EXACT_BOOST))
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
        field = FACET_FIELDS.get(facet)
        if field is None:
            raise InvalidInput(f"unknown facet {facet!r}")
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
                "should": relevance_clauses(query.positive_terms),
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


# ------------------------------------------------------------------------------- the search plan


@dataclass(frozen=True)
class SearchPlan:
    """The requests one search sends together in one ``_msearch``, and which answer is which.

    ``search_body`` as one request makes the engine score every match (ranking cannot skip anything
    while the same pass counts the total and feeds the aggregations), in one thread. Split, the parts
    are cheaper and run in parallel on the node:

    * the hits: the same query, sort and page, but ``track_total_hits: false``, so Lucene may skip
      documents that cannot reach the page (block-max WAND / MaxScore), see ``hits_query``;
    * the exact total and the facets: ``size: 0``, on the matching clauses alone (filter context:
      nothing is scored), so the shard request cache serves them again until the index changes. One
      request for all facets, which matches the documents once; but a query matching every document
      gets one request per facet, because a lone terms aggregation over all documents is read from
      the terms dictionary without visiting any (five requests of ~2 ms instead of one of ~60 ms).

    Hits, totals and facet counts are those of ``search_body``: the parts share its clauses.
    """

    bodies: list[dict[str, Any]]
    #: Position of the hits request in ``bodies`` (``None`` when no hit is asked for).
    hits: int | None
    #: Position of the request whose ``hits.total`` is the exact total.
    total: int
    #: Facet name -> position of the request holding its aggregation (named like the facet).
    facets: dict[str, int]
    #: Relevance order without a scoring term: every score is 0, so the hits are sorted by ``id``
    #: alone and their sort values (and cursors) get the score 0 put back in front.
    unscored: bool = False
    #: Relevance order by several unquoted words: cheaper hits queries to try in turn (``Tier``); the
    #: hits body holds the first. ``fallback`` is ``hits_query``, for when none is certified.
    tiers: tuple[Tier, ...] = ()
    fallback: Query | None = None
    #: The hits query with its clause scores summed flat (``flat_query``): it finds candidates that
    #: the hits query then ranks exactly (``candidates_body``, ``among``, ``certified``).
    approximate: Query | None = None
    #: ``approximate`` holds only documents of the top score (``top_tier``): ranked by id alone.
    by_id: bool = False
    #: Facets answered by the ``FACET_TUPLE_FIELD`` aggregation of the total's request (``split_tuple``),
    #: and the request of their separate aggregations, for when that one is not complete.
    tuple_facets: tuple[str, ...] = ()
    tuple_fallback: dict[str, Any] | None = None

    def untupled(self, position: int) -> SearchPlan:
        """This plan with its tuple facets answered by ``tuple_fallback`` at ``position`` instead."""
        facets = {**self.facets, **dict.fromkeys(self.tuple_facets, position)}
        return replace(self, facets=facets, tuple_facets=(), tuple_fallback=None)


@dataclass(frozen=True)
class Tier:
    """The hits query restricted to the documents of the top boost tiers (``tiers``)."""

    query: Query
    #: The most the constant boosts add to a matching document this query leaves out.
    outside: float


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
    still 2-4 times less engine work than ``search_body`` (``học`` at 1M records: 74 -> 41 ms CPU).
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
#: then the same as "a value below v, a value above v, or none".
SINGLE_VALUED = frozenset({"member", "type", "lang"})


def _excludable(node: Node) -> Keyword | None:
    """``node`` when ``NOT node`` can be the positive filter of ``_all_but``, else ``None``."""
    return node if isinstance(node, Keyword) and node.field in SINGLE_VALUED else None


def _all_but(node: Keyword) -> Query:
    """The documents whose single-valued keyword field is not ``node.value`` (or is missing).

    The same documents as ``must_not`` of the term, but as a filter: a ``must_not`` beside scoring
    clauses stops Lucene from skipping documents that cannot reach the page (``học NOT lang:eng`` at
    1M records: 79 -> 53 ms of engine CPU), a filter does not.
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
    should = relevance_clauses(query.positive_terms)
    extra = filter_clauses(filters)
    root = query.root
    items = list(root.items) if isinstance(root, And) else [root]
    core = [item for item in items if _has_term(item)]
    # The scoring terms must all come from the core (a doubly negated term elsewhere would otherwise
    # let its own clauses satisfy ``minimum_should_match``).
    if (
        should
        and len(core) == 1
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


#: Candidates asked beyond the page (``candidates_body``): room for near ties at the page's end.
CANDIDATE_MARGIN = 20
#: The deepest window (``from`` + page + margin) still looked up through candidates.
CANDIDATE_WINDOW = 200
#: How far (in float ulps) a flat sum may be from the grouped one: they differ by one rounding.
CANDIDATE_ULPS = 8


def flat_query(exact: Query) -> Query | None:
    """``exact`` (a ``hits_query``) with the clauses ``_summed_as_before`` grouped put back flat.

    The same matches, and scores within a rounding of the exact ones; but the engine sees every
    clause's maximum score, so MaxScore skips most documents (``"khoa học"`` at 1M records: about
    45 -> 12 ms of engine CPU; ``học`` 42 -> 22 ms). ``None`` when nothing is grouped.
    """
    shaped = exact["bool"]
    should = shaped.get("should") or []
    if "minimum_should_match" not in shaped or not any("function_score" in c for c in should):
        return None
    flat: list[Query] = []
    for clause in should:
        grouped = clause.get("function_score")
        flat.extend(grouped["query"]["bool"]["should"] if grouped else [clause])
    return {"bool": {**shaped, "should": flat}}


def _leaves(clause: Query) -> list[Query]:
    """The matching queries of a relevance clause (inside ``_summed_as_before``'s group, unboosted)."""
    if "function_score" in clause:
        grouped = clause["function_score"]["query"]["bool"]["should"]
        return [leaf for inner in grouped for leaf in _leaves(inner)]
    if "constant_score" in clause:
        return [clause["constant_score"]["filter"]]
    return [clause]


def top_tier(exact: Query) -> Query:
    """The documents of ``exact`` (a ``hits_query``) matching every one of its scoring clauses.

    When every clause scores a constant (one-word prefixes), those documents share the top score
    and any other scores less: the page is theirs, in id order, when they fill it. Unscored and
    sorted by id, the engine skips through them (``th*`` at 1M records: 60 -> 10 ms of engine CPU).
    """
    shaped = exact["bool"]
    leaves = [leaf for clause in shaped["should"] for leaf in _leaves(clause)]
    tier: dict[str, Any] = {"filter": [*leaves, *(shaped.get("filter") or [])]}
    if shaped.get("must_not"):
        tier["must_not"] = shaped["must_not"]
    return {"bool": tier}


def candidates_query(query: ParsedQuery, exact: Query) -> tuple[Query | None, bool]:
    """The query finding the candidates of ``exact``'s page, and whether they go in id order.

    ``top_tier`` when every scoring clause is a one-word prefix (constant scores), else
    ``flat_query``; none for other prefixes (flat, a constant-score clause skips no more).
    """
    terms = query.positive_terms
    if terms and all(term.prefix and len(term.folded) == 1 for term in terms):
        return top_tier(exact), True
    if any(term.prefix for term in terms):
        return None, False
    return flat_query(exact), False


def _window(body: dict[str, Any]) -> int:
    """Candidates asked for ``body``'s page: up to its look-ahead hit, and ``CANDIDATE_MARGIN`` more."""
    return body.get("from", 0) + body["size"] + CANDIDATE_MARGIN


def _ulps(score: float) -> float:
    """``CANDIDATE_ULPS`` units in the last place of ``score`` as a 32-bit float (engine scores)."""
    _, exponent = math.frexp(abs(score))
    return math.ldexp(CANDIDATE_ULPS, exponent - 24)


def candidates_body(body: dict[str, Any], approximate: Query, by_id: bool = False) -> dict[str, Any]:
    """The request for the candidates of ``body``'s page: ranked by ``approximate``, ids only.

    The window covers the page, its look-ahead hit and ``CANDIDATE_MARGIN`` more. After a cursor
    ``[score, id]`` it starts a little above the cursor's score, so every document after the cursor
    in the exact order (whose flat score is at most a rounding away) is still a candidate. ``by_id``:
    the first ids of ``approximate`` (after the cursor's), unscored; the page needs no more.
    """
    ask = {key: value for key, value in body.items() if key not in ("from", "search_after", "_source")}
    ask.update(query=approximate, size=_window(body), _source=False)
    if by_id:
        ask.update(sort=[{"id": {"order": "asc"}}], size=body.get("from", 0) + body["size"])
        if "search_after" in body:
            ask["search_after"] = list(body["search_after"])[-1:]
    elif "search_after" in body:
        score = float(body["search_after"][0])
        ask["search_after"] = [score + _ulps(score), ""]
    return ask


def among(body: dict[str, Any], ids: Sequence[str]) -> dict[str, Any]:
    """``body`` restricted to the documents ``ids``: the exact scores and order of those candidates."""
    shaped = body["query"]["bool"]
    only = {"terms": {"id": list(ids)}}
    return {**body, "query": {"bool": {**shaped, "filter": [*(shaped.get("filter") or []), only]}}}


def certified(
    candidates: Sequence[dict[str, Any]],
    window: int,
    page: Sequence[dict[str, Any]],
    wanted: int,
    by_id: bool = False,
) -> bool:
    """Whether ``page`` (of ``among``) is the page of the whole query.

    Yes when the candidates are every match (fewer than the ``window`` came), or when the page is
    full and its last exact score beats, by more than a rounding, the flat score of the last
    candidate: a document left out scores at most that flat score plus a rounding. ``by_id``
    (``top_tier``): when the page is full, its hits have the top score (all the same), and those
    left out a lower score or the same with a later id.
    """
    if by_id:
        return len(page) == wanted and page[0]["_score"] == page[-1]["_score"]
    if len(candidates) < window:
        return True
    if len(page) < wanted:
        return False
    bound = float(candidates[-1]["_score"])
    return float(page[-1]["_score"]) > bound + _ulps(bound)


#: The most one BM25 clause scores per unit of idf and of boost: Lucene's ``BM25Similarity``
#: (OpenSearch 3) scores below idf, the ``LegacyBM25Similarity`` of Elasticsearch 8 and OpenSearch 2
#: below (k1 + 1) idf = 2.2 idf. The larger keeps the bound true on every engine.
BM25_PER_IDF = 2.2
#: Room for float rounding when a tier's last hit is compared with the bound.
TIER_MARGIN = 1.0


def tiers(query: ParsedQuery, filters: SearchFilters) -> tuple[Tier, ...]:
    """Cheaper exact hits queries for the relevance order of a query ``hits_query`` cannot prune.

    With several unquoted words, the matching clauses must be a filter and every match is scored:
    at 1M records "văn học" scores ~150,000 documents for ten hits. But the constant boosts
    (``EXACT_BOOST`` ...) decide the order, BM25 only orders within a boost tier. So the hits are
    first asked among the documents having every boost, then among those having at least one: the
    same clauses and scores, over a few thousand documents. Such a page is the page of the whole
    query when it is full and its last score beats anything a document left out can reach: the
    boosts it can still have (``Tier.outside``) plus the most BM25 can give (``bm25_bound``); else
    the next tier, then ``hits_query``, answer (``ElasticBackend.search``).
    """
    should = relevance_clauses(query.positive_terms)
    boosts = [c["constant_score"] for c in should if "constant_score" in c]
    if not boosts:
        return ()
    matching = [compile_node(query.root), *filter_clauses(filters)]
    every = [b["filter"] for b in boosts]
    total = sum(b["boost"] for b in boosts)
    least = min(b["boost"] for b in boosts)
    found = [Tier({"bool": {"filter": [*matching, *every], "should": should}}, total - least)]
    if len(boosts) > 1:
        # Typed without diacritics, Vietnamese words rarely have every boost (their exact twins differ)
        # but often a title phrase: at least one boost, none outside.
        some = {"bool": {"should": every, "minimum_should_match": 1}}
        found.append(Tier({"bool": {"filter": [*matching, some], "should": should}}, 0.0))
    return tuple(found)


def _scored_words(query: ParsedQuery) -> list[tuple[str, float, tuple[str, ...], bool]]:
    """(folded field, weight, tokens, last token is a prefix) of every BM25 clause of the query."""
    out = []
    for term in query.positive_terms:
        if not term.folded:
            continue
        for stem in SCORED_FIELDS[term.field]:
            out.append((f"{stem}_folded", FIELD_WEIGHTS[stem], term.folded, term.prefix))
    return out


def stats_doc(query: ParsedQuery) -> dict[str, str]:
    """An artificial document of the query's scored words, whose term statistics ``bm25_bound`` needs."""
    words: dict[str, list[str]] = {}
    for field, _, tokens, _ in _scored_words(query):
        words.setdefault(field, []).extend(tokens)
    return {field: " ".join(dict.fromkeys(tokens)) for field, tokens in words.items()}


def bm25_bound(query: ParsedQuery, stats: dict[str, Any]) -> float:
    """An upper bound of the BM25 part of any document's score for ``query``.

    ``stats`` is the ``_termvectors`` answer for ``stats_doc(query)`` (``term_statistics`` and
    ``field_statistics``), from the index's only shard: per field the number of documents N having
    it, per word the number n having it. A clause scores at most ``weight * BM25_PER_IDF * idf``
    with idf = ln(1 + (N - n + 0.5) / (n + 0.5)); a word no document has (listed without
    ``doc_freq``) adds nothing, a prefix (constant score) at most its weight, the expansion of a
    phrase prefix the largest idf (n = 1). Statistics missing from the answer give an infinite bound,
    so nothing is certified on a guess.
    """
    vectors = stats.get("term_vectors") or {}
    bound = 0.0
    for field, weight, tokens, prefix in _scored_words(query):
        info = vectors.get(field) or {}
        field_stats = info.get("field_statistics")
        terms = info.get("terms") or {}
        if not field_stats:
            return math.inf
        docs = int(field_stats.get("doc_count", 0))
        for i, token in enumerate(tokens):
            last_prefix = prefix and i == len(tokens) - 1
            if last_prefix and len(tokens) == 1:
                bound += weight  # a prefix query scores its boost
                continue
            if last_prefix:
                found = 1  # phrase prefix: any expansion may be the rarest word
            elif token not in terms:
                return math.inf
            else:
                found = int(terms[token].get("doc_freq", 0))
                if found == 0:
                    continue
            idf = math.log(1 + (max(docs, found) - found + 0.5) / (found + 0.5))
            bound += weight * BM25_PER_IDF * idf
    return bound


def tuple_aggregations(aggs: dict[str, Any], facets: Sequence[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``aggs`` with the ``TUPLE_FACETS`` among ``facets`` replaced by one ``FACET_TUPLE_FIELD``
    aggregation, and the facets it answers (none when fewer than two are asked: nothing to save)."""
    tupled = tuple(name for name in TUPLE_FACETS if name in facets)
    if len(tupled) < 2:
        return aggs, ()
    rest = {name: agg for name, agg in aggs.items() if name not in tupled}
    tuple_agg = {"terms": {"field": FACET_TUPLE_FIELD, "size": TUPLE_BUCKETS, "shard_size": TUPLE_BUCKETS}}
    return {**rest, FACET_TUPLE_FIELD: tuple_agg}, tupled


def tuple_complete(answer: dict[str, Any]) -> bool:
    """Whether the tuple aggregation of ``answer`` counted every match (all buckets returned, and the
    index has the field on every document): one tuple per document, so the counts add up to the total.
    """
    total = (answer.get("hits") or {}).get("total", 0)
    total = int(total["value"] if isinstance(total, dict) else total)
    buckets = ((answer.get("aggregations") or {}).get(FACET_TUPLE_FIELD) or {}).get("buckets") or []
    return sum(int(b["doc_count"]) for b in buckets) == total


def split_tuple(
    buckets: Sequence[dict[str, Any]], facets: Sequence[str], facet_size: int
) -> dict[str, dict[str, Any]]:
    """The buckets of each of ``facets`` summed from the tuple aggregation's buckets, ordered as the
    engine orders them (count desc, then value asc by code point, like UTF-8 bytes) and cut to
    ``facet_size``; documents lacking a value are not counted."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in facets}
    positions = [(TUPLE_FACETS.index(name), counts[name]) for name in facets]
    for bucket in buckets:
        values = json.loads(bucket["key"])
        for position, counter in positions:
            if values[position] is not None:
                counter[values[position]] += int(bucket["doc_count"])
    return {
        name: {
            "buckets": [
                {"key": value, "doc_count": count}
                for value, count in sorted(counter.items(), key=lambda vc: (-vc[1], vc[0]))[:facet_size]
            ]
        }
        for name, counter in counts.items()
    }


def search_plan(
    query: ParsedQuery,
    request: SearchRequest,
    search_after: Sequence[object] | None = None,
    use_tuple: bool = False,
) -> SearchPlan:
    """The parts of ``search_body(query, request, search_after)`` as separate requests (``SearchPlan``).

    ``use_tuple``: the index has ``FACET_TUPLE_FIELD``, so the facets' request may aggregate it.
    """
    whole = search_body(query, request, search_after)
    matching: Query = {"bool": {"filter": whole["query"]["bool"]["filter"]}}
    bodies: list[dict[str, Any]] = []
    hits: int | None = None
    unscored = False
    tiered: tuple[Tier, ...] = ()
    fallback: Query | None = None
    approximate: Query | None = None
    by_id = False
    if request.size:
        body = {key: value for key, value in whole.items() if key != "aggs"}
        body["track_total_hits"] = False
        if request.sort != "relevance":
            # Sorted by a field, nothing is scored: the matching clauses alone, so Lucene can skip
            # documents whose sort value cannot reach the page.
            body["query"] = matching
        elif not query.positive_terms:
            unscored = True
            body["query"] = matching
            body["sort"] = [{"id": {"order": "asc"}}]
            if search_after is not None:
                body["search_after"] = list(search_after)[-1:]
        else:
            body["query"] = hits_query(query, request.filters)
            if "minimum_should_match" not in body["query"]["bool"]:  # not prunable as it is
                tiered = tiers(query, request.filters)
                if tiered:
                    fallback, body["query"] = body["query"], tiered[0].query
            elif _window(body) <= CANDIDATE_WINDOW:
                approximate, by_id = candidates_query(query, body["query"])
        hits = len(bodies)
        bodies.append(body)
    total = len(bodies)
    aggs: dict[str, Any] = whole.get("aggs") or {}
    facets: dict[str, int] = {}
    if isinstance(query.root, MatchAll) and not filter_clauses(request.filters):
        for name, agg in aggs.items():
            facets[name] = len(bodies)
            # The first facet request counts the total too (a count of everything costs nothing).
            counts: dict[str, Any] = {"size": 0, "track_total_hits": len(bodies) == total}
            bodies.append({**counts, "query": matching, "aggs": {name: agg}})
    tupled: tuple[str, ...] = ()
    fallback_aggs: dict[str, Any] | None = None
    if not facets:
        if use_tuple:
            separate = aggs
            aggs, tupled = tuple_aggregations(aggs, request.facets)
            if tupled:
                only = {name: separate[name] for name in tupled}
                fallback_aggs = {"size": 0, "track_total_hits": False, "query": matching, "aggs": only}
        facets = {name: total for name in aggs if name != FACET_TUPLE_FIELD}
        counts = {"size": 0, "track_total_hits": True, "query": matching}
        bodies.append({**counts, "aggs": aggs} if aggs else counts)
    return SearchPlan(
        bodies=bodies,
        hits=hits,
        total=total,
        facets=facets,
        unscored=unscored,
        tiers=tiered,
        fallback=fallback,
        approximate=approximate,
        by_id=by_id,
        tuple_facets=tupled,
        tuple_fallback=fallback_aggs,
    )


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


def autocomplete_body(field: str, term: Term, size: int) -> dict[str, Any]:
    """Candidates for autocomplete: documents with a ``field`` string starting with the typed words.

    Anchored prefix queries on keyword twins (the space-joined tokens of each title / author name):
    the string's first words equal the typed ones, its next word starts with the last typed one.
    Score 1 when the exact (diacritic) tokens match too, else 0; titles then go shortest first.
    """
    if field == "title":
        folded_field, exact_field, source = "title_folded.starts", "title_exact.starts", ["title"]
    elif field == "author":
        folded_field, exact_field, source = "author_starts_folded", "author_starts_exact", ["authors"]
    else:
        raise InvalidInput(f"autocomplete works on title or author, not {field!r}")
    sort: list[Any] = [{"_score": {"order": "desc"}}]
    if field == "title":
        sort.append({"title_len": {"order": "asc"}})
    sort.append({"id": {"order": "asc"}})
    return {
        "size": size,
        "_source": source,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [{"prefix": {folded_field: " ".join(term.folded)}}],
                "should": [_constant({"prefix": {exact_field: " ".join(term.exact)}}, 1.0)],
            }
        },
        "sort": sort,
    }


def vocabulary_body(folded_prefix: str, limit: int) -> dict[str, Any]:
    """Terms of ``text_folded`` starting with a prefix, most frequent first (document frequency)."""
    # Lucene regular expressions: escape everything but letters and digits.
    pattern = "".join(ch if ch.isalnum() else "\\" + ch for ch in folded_prefix) + ".*"
    return {
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


_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")


def check_alias(alias: str) -> str:
    """An alias usable as an index name prefix (lower-case, no separators the engines refuse)."""
    if not _NAME_RE.match(alias):
        raise InvalidInput(f"invalid search index alias {alias!r}: use lower-case letters, digits, - _ . +")
    return alias

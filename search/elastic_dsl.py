"""Pure compiler from the query AST (and a SearchRequest) to the Elasticsearch / OpenSearch query DSL.

Elasticsearch 8 and OpenSearch 2/3 understand every construct used here identically, so one compiler
serves both clients. Nothing here does I/O; ``search.elastic`` sends what these functions build.

Matching and scoring are kept apart on purpose: the query tree is compiled into filter context (it
decides *which* documents match, exactly as the embedded backend does), and ranking comes only from
``should`` clauses built from the positive free-text terms (BM25 on the folded fields with field
weights, plus boosts for exact-diacritic matches and title phrases).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import Any

from schemas.errors import InvalidInput
from schemas.search import IndexDocument, SearchFilters, SearchRequest

from . import analysis
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
#: Facet name in requests/responses -> indexed field.
FACET_FIELDS: dict[str, str] = {
    "member": "member", "type": "type", "language": "language", "subject": "subjects", "year": "year",
}  # fmt: skip
#: Facets are exact on the single-shard index; this keeps them exact if someone adds shards.
FACET_SHARD_SIZE = 1000
#: Fields added to the stored document for the engine only (kept out of ``_source``).
DERIVED_FIELDS = ("text_words", "title_len", "author_starts_exact", "author_starts_folded")
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
    stored_only = {"type": "text", "index": False}
    keyword = {"type": "keyword"}
    properties: dict[str, Any] = {
        "id": keyword,
        "seq": {"type": "long"},
        "member": keyword,
        "oai_identifier": keyword,
        "title": stored_only,
        "subtitle": stored_only,
        "authors": stored_only,
        "subjects": keyword,
        "abstract": stored_only,
        "publisher": stored_only,
        "year": {"type": "integer"},
        "language": keyword,
        "type": keyword,
        "isbn": keyword,
        "issn": keyword,
        "doi": keyword,
        "work_key": keyword,
        "title_sort": keyword,
        # One keyword per distinct folded word: the vocabulary (spelling suggestions) is a terms
        # aggregation on it, which needs no fielddata and works the same on Elasticsearch and OpenSearch.
        "text_words": keyword,
        "title_len": {"type": "integer"},
    }
    for stem in ("title", "author", "subject", "text"):
        properties[f"{stem}_exact"] = folded_text
        properties[f"{stem}_folded"] = folded_text
    # Autocomplete anchors prefixes at the start of a title or author name: keyword twins.
    starts = {"type": "keyword", "ignore_above": STARTS_MAX}
    for variant in ("exact", "folded"):
        properties[f"title_{variant}"] = {**folded_text, "fields": {"starts": starts}}
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


def _derived(doc: IndexDocument) -> dict[str, Any]:
    """The engine-only fields of a document (``DERIVED_FIELDS``)."""
    exact: list[str] = []
    folded: list[str] = []
    for name in doc.authors:
        # exact_text / folded_text of the name, tokenised once for both.
        toks = analysis.tokens(name)
        exact.append(" ".join(toks))
        folded.append(" ".join([_fold(t) for t in toks]))
    return {
        "text_words": sorted(set(doc.text_folded.split())),
        "title_len": len(doc.title or ""),
        "author_starts_exact": exact,
        "author_starts_folded": folded,
    }


def to_source(doc: IndexDocument) -> dict[str, Any]:
    """The stored form of a document: its fields (``None`` ones left out) plus the engine-only ones."""
    source = doc.model_dump(mode="json", exclude_none=True)
    source.update(_derived(doc))
    return source


def source_json(doc: IndexDocument) -> str:
    """``to_source(doc)`` serialised to JSON, the way bulk indexing sends it.

    Serialised once, by pydantic's Rust serialiser, with the derived fields spliced in: the bulk helpers
    pass strings through untouched, so the slower stdlib encoder never sees a document, and non-ASCII
    text travels as UTF-8 rather than six-byte ``\\u`` escapes.
    """
    fields = doc.model_dump_json(exclude_none=True)
    derived = json.dumps(_derived(doc), ensure_ascii=False, separators=(",", ":"))
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
            aggs[facet] = {"histogram": {"field": "year", "interval": 1, "min_doc_count": 1}}
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

"""Boost tiers: the hits of several unquoted words asked first of the documents with the top boosts.

``tiers`` builds them; ``tiered_search`` asks them in turn. A tier's page is the page of the whole query
when it is full and its last score beats anything a document left out can reach; ``bm25_bound`` bounds
the BM25 part of that from the index's term statistics (``stats_doc`` is the artificial document they
are asked for).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...query_ast import ParsedQuery
from ...semantics import FIELD_WEIGHTS
from ..client import MSEARCH_FILTER_PATH, TIERED_FILTER_PATH, ElasticConnection
from ..compile import SCORED_FIELDS, Query

if TYPE_CHECKING:  # the plan holds its tiers: only its type is needed here
    from . import SearchPlan


@dataclass(frozen=True)
class Tier:
    """The hits query restricted to the documents of the top boost tiers (``tiers``)."""

    query: Query
    #: The most the constant boosts add to a matching document this query leaves out.
    outside: float


#: The most one BM25 clause scores per unit of idf and of boost: Lucene's ``BM25Similarity``
#: (OpenSearch 3) scores below idf, the ``LegacyBM25Similarity`` of Elasticsearch 8 and OpenSearch 2
#: below (k1 + 1) idf = 2.2 idf. The larger keeps the bound true on every engine.
BM25_PER_IDF = 2.2
#: Room for float rounding when a tier's last hit is compared with the bound.
TIER_MARGIN = 1.0


def tiers(matching: Sequence[Query], should: Sequence[Query]) -> tuple[Tier, ...]:
    """Cheaper exact hits queries for the relevance order of a query ``hits_query`` cannot prune.

    ``matching`` and ``should`` are the filter and the relevance clauses of ``search_body``. With
    several unquoted words, the matching clauses must be a filter and every match is scored: a common
    word pair scores a good part of the catalogue for ten hits. But the constant boosts
    (``EXACT_BOOST`` ...) decide the order, BM25 only orders within a boost tier. So the hits are
    first asked among the documents having every boost, then among those having at least one: the
    same clauses and scores, over a few thousand documents. Such a page is the page of the whole
    query when it is full and its last score beats anything a document left out can reach: the
    boosts it can still have (``Tier.outside``) plus the most BM25 can give (``bm25_bound``); else
    the next tier, then ``hits_query``, answer (``tiered_search``).
    """
    boosts = [c["constant_score"] for c in should if "constant_score" in c]
    if not boosts:
        return ()
    every = [b["filter"] for b in boosts]
    total = sum(b["boost"] for b in boosts)
    least = min(b["boost"] for b in boosts)
    found = [Tier({"bool": {"filter": [*matching, *every], "should": list(should)}}, total - least)]
    if len(boosts) > 1:
        # Typed without diacritics, Vietnamese words rarely have every boost (their exact twins differ)
        # but often a title phrase: at least one boost, none outside.
        some = {"bool": {"should": every, "minimum_should_match": 1}}
        found.append(Tier({"bool": {"filter": [*matching, some], "should": list(should)}}, 0.0))
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


async def tiered_search(
    sender: ElasticConnection, plan: SearchPlan, query: ParsedQuery
) -> list[dict[str, Any]]:
    """The answers of ``plan``, its hits those of the first tier whose page is certified, else of the
    whole query (``SearchPlan.fallback``).

    The plan's requests go with the statistics that bound BM25 (``stats_doc``). The statistics must
    come from the index that answered (an alias swap between the requests would pair a page with
    another index's statistics): else the whole query answers.
    """
    assert plan.hits is not None and plan.fallback is not None
    # Declared: the stubs type what ``gather`` returns as ``Any``.
    answers: list[dict[str, Any]]
    stats: dict[str, Any]
    answers, stats = await asyncio.gather(
        sender.raw_msearch(plan.bodies, filter_path=TIERED_FILTER_PATH),
        sender.term_stats(stats_doc(query)),
    )
    answers[plan.hits] = await _tier_hits(sender, plan, answers[plan.hits], query, stats)
    return answers


async def _tier_hits(
    sender: ElasticConnection,
    plan: SearchPlan,
    first: dict[str, Any],
    query: ParsedQuery,
    stats: dict[str, Any],
) -> dict[str, Any]:
    """The hits answer of the first certified tier (``first`` is the first tier's), else the whole query's."""
    assert plan.hits is not None and plan.fallback is not None
    body = plan.bodies[plan.hits]
    bound = bm25_bound(query, stats)
    answer = first
    for n, tier in enumerate(plan.tiers):
        if n:
            answer = (
                await sender.raw_msearch([{**body, "query": tier.query}], filter_path=TIERED_FILTER_PATH)
            )[0]
        found = (answer.get("hits") or {}).get("hits") or []
        if (
            len(found) == body["size"]
            and all(hit.get("_index") == stats.get("_index") for hit in found)
            and found[-1]["_score"] > bound + tier.outside + TIER_MARGIN
        ):
            return answer
    whole = {**body, "query": plan.fallback}
    return (await sender.raw_msearch([whole], filter_path=MSEARCH_FILTER_PATH))[0]

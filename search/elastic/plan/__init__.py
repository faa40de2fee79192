"""The search plan: one search as the separate requests of one ``_msearch``.

``search_plan`` builds it from ``search_body``'s clauses, with the cheaper hits lookups of ``tiers``
(several unquoted words) or ``candidates`` (one-word terms and phrases); ``run`` sends it and certifies
the pages those lookups give; ``search.elastic.results`` joins its answers into one result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from schemas.search import SearchRequest

from ...query_ast import MatchAll, ParsedQuery
from ..compile import Query, hits_query, search_body
from ..mapping import FACET_TUPLE_FIELD, TUPLE_FACETS
from .candidates import candidates_query
from .tiers import Tier, tiers

#: Buckets asked of the tuple aggregation: every distinct combination (at most members x types x
#: languages, about a hundred in practice). Fewer buckets than combinations is noticed (their counts
#: do not add up to the total) and answered by the separate aggregations instead (``run.tuple_complete``).
TUPLE_BUCKETS = 10_000


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
      the terms dictionary without visiting any (several small requests cost less than one).

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


def tuple_aggregations(aggs: dict[str, Any], facets: Sequence[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``aggs`` with the ``TUPLE_FACETS`` among ``facets`` replaced by one ``FACET_TUPLE_FIELD``
    aggregation, and the facets it answers (none when fewer than two are asked: nothing to save)."""
    tupled = tuple(name for name in TUPLE_FACETS if name in facets)
    if len(tupled) < 2:
        return aggs, ()
    rest = {name: agg for name, agg in aggs.items() if name not in tupled}
    tuple_agg = {"terms": {"field": FACET_TUPLE_FIELD, "size": TUPLE_BUCKETS, "shard_size": TUPLE_BUCKETS}}
    return {**rest, FACET_TUPLE_FIELD: tuple_agg}, tupled


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
                tiered = tiers(whole["query"]["bool"]["filter"], whole["query"]["bool"]["should"])
                if tiered:
                    fallback, body["query"] = body["query"], tiered[0].query
            else:
                approximate, by_id = candidates_query(query, body)
        hits = len(bodies)
        bodies.append(body)
    total = len(bodies)
    aggs: dict[str, Any] = whole.get("aggs") or {}
    facets: dict[str, int] = {}
    # The query's own clause comes first in the filter, the request's filters after it.
    if isinstance(query.root, MatchAll) and not whole["query"]["bool"]["filter"][1:]:
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

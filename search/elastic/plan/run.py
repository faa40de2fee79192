"""Send a search plan and gather its answers, asking again where a cheaper request could not answer.

* a plan with ``approximate`` sends the candidates request in place of the hits request, then ranks the
  candidates exactly (``search.elastic.plan.candidates``);
* a plan with ``tiers`` sends the first tier with the term statistics that bound BM25, then the next
  tier, then the whole hits query, until a page is certified (``search.elastic.plan.tiers``);
* a plan asking the facet tuple asks the separate facet aggregations when the tuple did not count
  every match (the alias moved to an index without the field, or more combinations than buckets).

The requests go through ``Sender.raw_msearch`` and ``Sender.term_stats``: the backend itself, so a tool
that records a search's engine calls (the benchmark) sees every one of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ...query_ast import ParsedQuery
from ..mapping import FACET_TUPLE_FIELD
from .build import SearchPlan
from .candidates import among, candidates_body, certified
from .tiers import TIER_MARGIN, bm25_bound, stats_doc

#: Response fields a search uses (``filter_path``): no shard header, ``_index``/``_id`` of every hit,
#: or per-bucket error bounds to send and decode.
SEARCH_FILTER_PATH = ",".join(
    (
        "hits.total",
        "hits.hits._source",
        "hits.hits._score",
        "hits.hits.sort",
        "aggregations.*.buckets.key",
        "aggregations.*.buckets.doc_count",
    )
)
#: The same fields of each answer of a multi-search, plus its status and error: every answer keeps
#: its ``status``, so none can vanish from the list when ``filter_path`` empties it.
MSEARCH_FILTER_PATH = ",".join(
    [f"responses.{path}" for path in SEARCH_FILTER_PATH.split(",")]
    + ["responses.status", "responses.error.type", "responses.error.reason"]
)
#: A tiered search also reads the index of each hit, to pair it with the term statistics.
TIERED_FILTER_PATH = f"{MSEARCH_FILTER_PATH},responses.hits.hits._index"


class Sender(Protocol):
    """The two engine requests a plan needs (``search.elastic.client.ElasticConnection``)."""

    async def raw_msearch(
        self, bodies: Sequence[dict[str, Any]], index: str | None = None, filter_path: str | None = None
    ) -> list[dict[str, Any]]: ...

    async def term_stats(self, doc: dict[str, str], index: str | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Answered:
    """The answers of a plan, in the order of ``plan.bodies`` (then any request added by ``run_plan``)."""

    answers: list[dict[str, Any]]
    #: The plan the answers are read by: the one sent, or it with its tuple facets answered separately.
    plan: SearchPlan
    #: The facet tuple did not count every match: the live index may lack the field.
    tuple_missed: bool = False


async def run_plan(sender: Sender, plan: SearchPlan, query: ParsedQuery) -> Answered:
    """The answers of ``plan`` (built by ``search_plan`` for ``query``), certified where needed.

    The hits, the total and the facets are separate requests of one ``_msearch``. For several unquoted
    words the hits are first asked of the top boost tiers, with the statistics that bound BM25 fetched
    alongside; a tier's page that cannot be certified is asked again of the next tier, and lastly of
    the whole query.
    """
    if plan.approximate is not None:
        answers = await _candidate_search(sender, plan)
    elif not plan.tiers or plan.hits is None:
        answers = await sender.raw_msearch(plan.bodies, filter_path=MSEARCH_FILTER_PATH)
    else:
        answers, stats = await asyncio.gather(
            sender.raw_msearch(plan.bodies, filter_path=TIERED_FILTER_PATH),
            sender.term_stats(stats_doc(query)),
        )
        answers[plan.hits] = await _tiered_hits(sender, plan, answers[plan.hits], query, stats)
    if plan.tuple_fallback is None or tuple_complete(answers[plan.total]):
        return Answered(answers, plan)
    fallback = await sender.raw_msearch([plan.tuple_fallback], filter_path=MSEARCH_FILTER_PATH)
    answers = [*answers, fallback[0]]
    return Answered(answers, plan.untupled(len(answers) - 1), tuple_missed=True)


async def _tiered_hits(
    sender: Sender, plan: SearchPlan, first: dict[str, Any], query: ParsedQuery, stats: dict[str, Any]
) -> dict[str, Any]:
    """The answer of the first tier whose page is certified (see ``tiers``), else of the whole query.

    The statistics must come from the index that answered (an alias swap between the requests
    would pair a page with another index's statistics): else the whole query answers.
    """
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


async def _candidate_search(sender: Sender, plan: SearchPlan) -> list[dict[str, Any]]:
    """The answers of ``plan``, its page found among candidates (``SearchPlan.approximate``).

    The plan's requests go with the candidates request in place of the hits request; then the
    hits request restricted to the candidates gives their exact scores and order. When that page
    cannot be certified (``certified``: near ties beyond the window) the hits request answers.
    """
    assert plan.hits is not None and plan.approximate is not None
    body = plan.bodies[plan.hits]
    ask = candidates_body(body, plan.approximate, plan.by_id)
    bodies = list(plan.bodies)
    bodies[plan.hits] = ask
    answers = await sender.raw_msearch(bodies, filter_path=MSEARCH_FILTER_PATH)
    found = _hits_of(answers[plan.hits])
    if found:
        ids = [str(hit["sort"][-1]) for hit in found]
        exact = (await sender.raw_msearch([among(body, ids)], filter_path=MSEARCH_FILTER_PATH))[0]
        if certified(found, ask["size"], _hits_of(exact), body["size"], plan.by_id):
            answers[plan.hits] = exact
            return answers
    elif not plan.by_id:
        return answers  # no match after the cursor: the page is empty
    answers[plan.hits] = (await sender.raw_msearch([body], filter_path=MSEARCH_FILTER_PATH))[0]
    return answers


def _hits_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The hits of one answer (``filter_path`` drops an empty list)."""
    return list((answer.get("hits") or {}).get("hits") or [])


def tuple_complete(answer: dict[str, Any]) -> bool:
    """Whether the tuple aggregation of ``answer`` counted every match (all buckets returned, and the
    index has the field on every document): one tuple per document, so the counts add up to the total.
    """
    total = (answer.get("hits") or {}).get("total", 0)
    total = int(total["value"] if isinstance(total, dict) else total)
    buckets = ((answer.get("aggregations") or {}).get(FACET_TUPLE_FIELD) or {}).get("buckets") or []
    return sum(int(b["doc_count"]) for b in buckets) == total

"""Send a search plan and gather its answers, certified where a cheaper hits lookup answered.

The requests go through the connection's ``raw_msearch`` and ``term_stats``: the backend passes itself,
so a tool that records a search's engine calls on it (the benchmark) sees every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...query_ast import ParsedQuery
from ..client import MSEARCH_FILTER_PATH, ElasticConnection
from ..mapping import FACET_TUPLE_FIELD
from . import SearchPlan
from .candidates import candidate_search
from .tiers import tiered_search


@dataclass(frozen=True)
class Answered:
    """The answers of a plan, in the order of ``plan.bodies`` (then any request added by ``run_plan``)."""

    answers: list[dict[str, Any]]
    #: The plan the answers are read by: the one sent, or it with its tuple facets answered separately.
    plan: SearchPlan
    #: The facet tuple did not count every match: the live index may lack the field.
    tuple_missed: bool = False


async def run_plan(sender: ElasticConnection, plan: SearchPlan, query: ParsedQuery) -> Answered:
    """The answers of ``plan`` (built by ``search_plan`` for ``query``), certified where needed.

    The hits, the total and the facets are separate requests of one ``_msearch``. For several unquoted
    words the hits are first asked of the top boost tiers, with the statistics that bound BM25 fetched
    alongside; a tier's page that cannot be certified is asked again of the next tier, and lastly of
    the whole query.
    """
    if plan.approximate is not None:
        answers = await candidate_search(sender, plan)
    elif plan.tiers and plan.hits is not None:
        answers = await tiered_search(sender, plan, query)
    else:
        answers = await sender.raw_msearch(plan.bodies, filter_path=MSEARCH_FILTER_PATH)
    if plan.tuple_fallback is None or tuple_complete(answers[plan.total]):
        return Answered(answers, plan)
    fallback = await sender.raw_msearch([plan.tuple_fallback], filter_path=MSEARCH_FILTER_PATH)
    answers = [*answers, fallback[0]]
    return Answered(answers, plan.untupled(len(answers) - 1), tuple_missed=True)


def tuple_complete(answer: dict[str, Any]) -> bool:
    """Whether the tuple aggregation of ``answer`` counted every match (all buckets returned, and the
    index has the field on every document): one tuple per document, so the counts add up to the total.
    """
    total = (answer.get("hits") or {}).get("total", 0)
    total = int(total["value"] if isinstance(total, dict) else total)
    buckets = ((answer.get("aggregations") or {}).get(FACET_TUPLE_FIELD) or {}).get("buckets") or []
    return sum(int(b["doc_count"]) for b in buckets) == total

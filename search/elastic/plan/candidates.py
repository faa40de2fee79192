"""Candidates: the hits of one-word terms and phrases found by a cheaper, flat-scored query first.

``hits_query`` groups some clause scores so that its sums equal ``search_body``'s to the last bit, which
hides their maximum scores from the engine. ``flat_query`` puts them back flat (scores within a rounding):
the engine skips far more documents. Its top documents are the candidates; the hits query restricted to
them (``among``) ranks them exactly, and ``certified`` says whether that page is the whole query's.
``candidates_query`` is planned by ``search_plan``, ``candidate_search`` sends it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...query_ast import ParsedQuery
from ..client import MSEARCH_FILTER_PATH, ElasticConnection
from ..compile import Query

if TYPE_CHECKING:  # the plan holds the candidates query: only its type is needed here
    from . import SearchPlan

#: Candidates asked beyond the page (``candidates_body``): room for near ties at the page's end.
CANDIDATE_MARGIN = 20
#: The deepest window (``from`` + page + margin) still looked up through candidates.
CANDIDATE_WINDOW = 200
#: How far (in float ulps) a flat sum may be from the grouped one: they differ by one rounding.
CANDIDATE_ULPS = 8


def flat_query(exact: Query) -> Query | None:
    """``exact`` (a ``hits_query``) with the clauses ``_summed_as_before`` grouped put back flat.

    The same matches, and scores within a rounding of the exact ones; but the engine sees every
    clause's maximum score, so MaxScore skips most documents. ``None`` when nothing is grouped.
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
    sorted by id, the engine skips through them.
    """
    shaped = exact["bool"]
    leaves = [leaf for clause in shaped["should"] for leaf in _leaves(clause)]
    tier: dict[str, Any] = {"filter": [*leaves, *(shaped.get("filter") or [])]}
    if shaped.get("must_not"):
        tier["must_not"] = shaped["must_not"]
    return {"bool": tier}


def candidates_query(query: ParsedQuery, body: dict[str, Any]) -> tuple[Query | None, bool]:
    """The query finding the candidates of the page of ``body`` (a hits request with a ``hits_query``),
    and whether they go in id order.

    ``top_tier`` when every scoring clause is a one-word prefix (constant scores), else
    ``flat_query``; none for other prefixes (flat, a constant-score clause skips no more), nor for a
    page deeper than ``CANDIDATE_WINDOW`` (the exact query alone).
    """
    if candidate_window(body) > CANDIDATE_WINDOW:
        return None, False
    exact = body["query"]
    terms = query.positive_terms
    if terms and all(term.prefix and len(term.folded) == 1 for term in terms):
        return top_tier(exact), True
    if any(term.prefix for term in terms):
        return None, False
    return flat_query(exact), False


def candidate_window(body: dict[str, Any]) -> int:
    """Candidates asked for ``body``'s page: up to its look-ahead hit, and ``CANDIDATE_MARGIN`` more."""
    start: int = body.get("from", 0)
    size: int = body["size"]
    return start + size + CANDIDATE_MARGIN


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
    ask.update(query=approximate, size=candidate_window(body), _source=False)
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


async def candidate_search(sender: ElasticConnection, plan: SearchPlan) -> list[dict[str, Any]]:
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

"""Read the engine's answers into the ``BackendResult`` every backend returns.

``result_from_answers`` joins the answers of a ``SearchPlan`` into what one ``search_body`` request would
have answered (splitting the facet tuple's buckets back into facets); ``result_from_answer`` converts
that: the hits' documents, the facets in the order asked, the total and the next cursor.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from schemas.search import FacetValue, SearchRequest

from ..backend import BackendHit, BackendResult
from ..semantics import encode_cursor
from .mapping import FACET_TUPLE_FIELD, TUPLE_FACETS, hit_document
from .plan import SearchPlan

_FACET_VALUES = TypeAdapter(list[FacetValue])


def result_from_answers(
    answers: Sequence[dict[str, Any]], plan: SearchPlan, request: SearchRequest
) -> BackendResult:
    """Join the answers of a ``SearchPlan`` into the ``BackendResult`` of one ``search_body`` answer."""
    hits: dict[str, Any] = {}
    if plan.hits is not None:
        hits["hits"] = (answers[plan.hits].get("hits") or {}).get("hits") or []
        if plan.unscored:
            # Sorted by id alone: put back the score every hit has in relevance order (0, nothing is
            # scored) in front of the sort values, so cursors keep their ``[score, id]`` form.
            hits["hits"] = [{**h, "_score": 0.0, "sort": [0.0, *h.get("sort", [])]} for h in hits["hits"]]
    hits["total"] = (answers[plan.total].get("hits") or {}).get("total", 0)
    aggs = {name: (answers[i].get("aggregations") or {}).get(name) or {} for name, i in plan.facets.items()}
    if plan.tuple_facets:
        tupled = (answers[plan.total].get("aggregations") or {}).get(FACET_TUPLE_FIELD) or {}
        aggs.update(split_tuple(tupled.get("buckets") or [], plan.tuple_facets, request.facet_size))
    return result_from_answer({"hits": hits, "aggregations": aggs}, request)


def result_from_answer(answer: dict[str, Any], request: SearchRequest) -> BackendResult:
    """Convert an engine answer to a ``BackendResult`` (drops the look-ahead hit, makes the cursor).

    The answer may be trimmed by ``SEARCH_FILTER_PATH``, which drops empty parts (no hits, no buckets).
    """
    hits_part = answer.get("hits") or {}
    raw_hits = hits_part.get("hits") or []
    more = bool(request.size) and len(raw_hits) > request.size
    hits = [
        BackendHit(doc=hit_document(h["_source"]), score=h.get("_score"), sort_values=h.get("sort") or [])
        for h in raw_hits[: request.size]
    ]
    facets: dict[str, list[FacetValue]] = {}
    aggs = answer.get("aggregations") or {}
    for name in request.facets:  # in the order asked for; filter_path drops a facet without buckets
        buckets = (aggs.get(name) or {}).get("buckets") or []
        # Validated as one list in pydantic-core: half the cost of a model per bucket (the year
        # facet has a bucket per year).
        if name == "year":  # keyword keys: "999" sorts after "2015" as a string
            years = sorted((int(b["key"]), b["doc_count"]) for b in buckets)
            values = [{"value": str(year), "count": count} for year, count in years]
        else:
            values = [{"value": str(b["key"]), "count": b["doc_count"]} for b in buckets]
        facets[name] = _FACET_VALUES.validate_python(values)
    total = hits_part.get("total", 0)
    next_cursor = encode_cursor(hits[-1].sort_values) if more and hits else None
    return BackendResult(
        total=int(total["value"] if isinstance(total, dict) else total),
        hits=hits,
        facets=facets,
        next_cursor=next_cursor,
    )


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

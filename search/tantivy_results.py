"""Hits in the exact order of ``search.semantics`` (sort value, then id, ties fetched whole), cursors
and facets, from a tantivy searcher."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import tantivy
from pydantic import TypeAdapter
from tantivy import Occur, Order
from tantivy import Query as Q

from schemas.errors import InvalidInput
from schemas.search import FacetValue

from .tantivy_query import (
    ConstantScores,
    _everything_but,
)
from .tantivy_schema import (
    _FACET_FIELD,
    _ID_KEYS,
    _MAX_TIE_WINDOW,
    _SORT_MARK,
    SCHEMA,
    id_key,
)


@dataclass(order=True)
class _Entry:
    key: tuple[Any, ...]  # comparison key: the sort values, then the id key
    values: list[Any] = field(compare=False)  # sort values as the cursor carries them (id appended later)
    addr: Any = field(compare=False)
    score: float = field(compare=False, default=0.0)


_entry_key = attrgetter("key")  # sorting on the key alone skips the dataclass's Python-level __lt__


def _year_values(sort: str, year: int | None) -> tuple[int, int]:
    if year is None:
        return 1, 0
    return 0, -year if sort == "year_desc" else year


def _cursor_key(sort: str, ranked: bool, after: list[Any]) -> tuple[Any, ...]:
    """The comparison key of a cursor made by ``_page`` (``InvalidInput`` when it cannot be)."""
    try:
        *values, doc_id = after
        if sort == "relevance":
            (score,) = values
            return (-float(score), *id_key(doc_id))
        if sort == "title":
            (title,) = values
            return (str(title), *id_key(doc_id))
        missing, year = values
        return (int(missing), int(year), *id_key(doc_id))
    except (TypeError, ValueError) as exc:
        raise InvalidInput("cursor does not belong to this sort order") from exc


# How long a write waits for another process (a CLI harvest, a server) to finish its commit.


def _total(result: tantivy.SearchResult) -> int:
    """The hit count of a search run with ``count=True`` (the default)."""
    return result.count or 0  # type: ignore[attr-defined]  # present at runtime, not in tantivy's stub


def _id_keys(searcher: tantivy.Searcher, addrs: list[Any]) -> list[tuple[int, int, int, int]]:
    columns = [searcher.fast_field_values(name, addrs) for name in _ID_KEYS]
    if any(None in column for column in columns):  # a missing value counts as 0 (never for our documents)
        columns = [[int(v or 0) for v in column] for column in columns]
    return list(zip(*columns, strict=True))


def _ordered(
    searcher: tantivy.Searcher,
    query: Q,
    sort: str,
    ranked: bool,
    limit: int,
    constant: ConstantScores | None = None,
) -> tuple[list[_Entry], int]:
    """The first ``limit`` matches in the exact order of ``search.semantics`` (sort value, then id).

    tantivy orders by one value and breaks ties by document address; the group of equal values at the
    end of the window may therefore be cut anywhere. It is refetched whole (or, for scores, the window
    widened until it holds it whole, unless ``constant`` says how to fetch it by id) and ordered by id.
    """
    if sort == "relevance" and not ranked:
        # Every score is 0: the order is the id order, which tantivy sorts natively.
        result = searcher.search(query, limit, order_by_field="id", order=Order.Asc)
        entries = [_Entry((-0.0, *id_key(v)), [0.0], addr) for v, addr in result.hits]
        return entries, _total(result)
    if sort == "relevance":
        return _ordered_by_score(searcher, query, limit, constant)
    if sort == "title":
        result = searcher.search(query, limit, order_by_field="title_sort", order=Order.Asc)
        raw = [(str(v)[len(_SORT_MARK) :], addr) for v, addr in result.hits]

        def same_as(value: Any) -> Q:
            return Q.term_query(SCHEMA, "title_sort", _SORT_MARK + value)

        def values_of(value: Any) -> tuple[list[Any], tuple[Any, ...]]:
            return [value], (value,)
    else:
        order = Order.Desc if sort == "year_desc" else Order.Asc  # documents without year come last
        result = searcher.search(query, limit, order_by_field="year", order=order)
        raw = [(v, addr) for v, addr in result.hits]

        def same_as(value: Any) -> Q:
            if value is None:
                return _everything_but([Q.exists_query("year")])
            return Q.term_query(SCHEMA, "year", value)

        def values_of(value: Any) -> tuple[list[Any], tuple[Any, ...]]:
            values = list(_year_values(sort, value))
            return values, tuple(values)

    total = _total(result)
    head = raw
    tail: list[_Entry] = []
    if len(raw) == limit and total > limit:
        # The last group may continue past the window: refetch it in id order.
        last = raw[-1][0]
        head = [r for r in raw if r[0] != last]
        values, key = values_of(last)
        group = searcher.search(
            Q.boolean_query([(Occur.Must, query), (Occur.Must, same_as(last))]),
            limit - len(head),
            count=False,
            order_by_field="id",
            order=Order.Asc,
        )
        tail = [_Entry((*key, *id_key(v)), values, addr) for v, addr in group.hits]
    keys = _id_keys(searcher, [addr for _, addr in head]) if head else []
    entries = []
    for (value, addr), idk in zip(head, keys, strict=True):
        values, key = values_of(value)
        entries.append(_Entry((*key, *idk), values, addr))
    entries.sort(key=_entry_key)  # stable, as the comparison sort it replaces
    return entries + tail, total


def _ordered_by_score(
    searcher: tantivy.Searcher, query: Q, limit: int, constant: ConstantScores | None = None
) -> tuple[list[_Entry], int]:
    # One more than the limit, so that a group of equal scores running past the limit is seen (and
    # the window widened until it holds the group whole): tantivy cuts such a group by address, and
    # the page must hold the group's first ids, not any of them.
    window = limit + 1
    while True:
        result = searcher.search(query, window)
        hits = result.hits
        total = _total(result)
        if len(hits) < window or window >= _MAX_TIE_WINDOW:
            break
        if hits[-1][0] != hits[limit - 1][0]:
            break  # the group of the limit-th score ends inside the window
        if constant is not None:
            # A broad prefix query ties hundreds of thousands of matches: widening the window to
            # them all costs about 200 ms at 1M works, fetching the group's first ids about 20.
            grouped = _with_tie_group(searcher, query, constant, hits, limit)
            if grouped is not None:
                return grouped, total
        window *= 4
    if len(hits) > limit:
        boundary = hits[limit - 1][0]
        hits = [h for h in hits if h[0] >= boundary]
    keys = _id_keys(searcher, [addr for _, addr in hits]) if hits else []
    entries = [
        _Entry((-float(score), *idk), [float(score)], addr, float(score))
        for (score, addr), idk in zip(hits, keys, strict=True)
    ]
    entries.sort(key=_entry_key)
    return entries[:limit], total


def _with_tie_group(
    searcher: tantivy.Searcher, query: Q, constant: ConstantScores, hits: list[Any], limit: int
) -> list[_Entry] | None:
    """The first ``limit`` entries when the group of the ``limit``-th score runs past the window:
    the hits scoring above it, then the group's first ids, fetched in id order as the matches that
    match exactly the clauses whose constants sum to its score. None when no such clauses are found
    (the caller widens the window instead)."""
    boundary = hits[limit - 1][0]
    above = [h for h in hits if h[0] > boundary]
    clauses = constant.clauses
    subsets = []
    for mask in range(1, 1 << len(clauses)):
        total = sum(score for i, (_, score) in enumerate(clauses) if mask >> i & 1)
        if abs(total - boundary) <= 1e-4 * max(1.0, abs(total)):  # the engine sums in 32-bit floats
            subsets.append(mask)

    def exactly(mask: int, base: Q) -> Q:
        return Q.boolean_query(
            [(Occur.Must, base)]
            + [(Occur.Must if mask >> i & 1 else Occur.MustNot, q) for i, (q, _) in enumerate(clauses)]
        )

    if len(subsets) > 1:
        # Sums this close may still differ in the engine's last bit: keep those scoring the boundary.
        subsets = [
            mask
            for mask in subsets
            if [h[0] for h in searcher.search(exactly(mask, query), 1, count=False).hits] == [boundary]
        ]
    if not subsets:
        return None
    wanted = limit - len(above)
    group: list[tuple[tuple[Any, ...], Any]] = []
    for mask in subsets:
        found = searcher.search(
            exactly(mask, constant.matching), wanted, count=False, order_by_field="id", order=Order.Asc
        )
        group += [((-float(boundary), *id_key(v)), addr) for v, addr in found.hits]
    group.sort(key=lambda g: g[0])
    keys = _id_keys(searcher, [addr for _, addr in above]) if above else []
    entries = [
        _Entry((-float(score), *idk), [float(score)], addr, float(score))
        for (score, addr), idk in zip(above, keys, strict=True)
    ]
    entries.sort(key=_entry_key)
    entries += [_Entry(key, [float(boundary)], addr, float(boundary)) for key, addr in group[:wanted]]
    return entries


# One validation call for a whole facet list costs less than building the values one by one, even
# bypassing validation (about 0.6 µs a value against 0.8-1 µs).
_facet_values = TypeAdapter(list[FacetValue]).validate_python
# The year facet lists every year of the matches (50-70 values a query): their keys arrive as floats,
# and the text of each is memoised (about 10 µs a query).
_year_text = functools.lru_cache(maxsize=4096)(lambda key: str(int(key)))


def _facets(
    searcher: tantivy.Searcher, query: Q, names: Sequence[str], size: int
) -> dict[str, list[FacetValue]]:
    """Exact facet counts: ``terms`` aggregations on the fast fields, ordered as the semantics say."""
    out: dict[str, list[FacetValue]] = {}
    want = max(size * 4, 1000)
    pending = list(dict.fromkeys(names))
    while pending:
        aggs = {name: _facet_agg(name, want) for name in pending}
        answer = searcher.aggregate(query, aggs)
        retry: list[str] = []
        for name in pending:
            buckets = answer.get(name, {}).get("buckets", [])
            if len(buckets) >= want and name == "year":
                retry.append(name)  # the semantics list every year: ask for more
            elif name == "year":
                # already in year order (the aggregation orders by key): no sort, no intermediate tuples
                years = [{"value": _year_text(b["key"]), "count": b["doc_count"]} for b in buckets]
                out[name] = _facet_values(years)
            else:
                # (-count, value) tuples sort in the semantics' order without a Python key function
                ranked = sorted([(-b["doc_count"], b["key"]) for b in buckets])
                if len(ranked) >= want and ranked[size - 1][0] == ranked[-1][0]:
                    retry.append(name)  # values tied with the last kept one may be missing: ask for more
                    continue
                out[name] = _facet_values([{"value": v, "count": -c} for c, v in ranked[:size]])
        pending = retry
        want *= 8
    return {name: out[name] for name in names}


def _facet_agg(name: str, want: int) -> dict[str, Any]:
    """The ``terms`` aggregation of one facet: ``want`` values (by count desc; years by year asc)."""
    terms: dict[str, Any] = {"field": _FACET_FIELD[name], "size": want, "segment_size": want * 10}
    if name == "year":
        terms["order"] = {"_key": "asc"}
    return {"terms": terms}

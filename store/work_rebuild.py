"""Clustering the whole store again, from the store alone: ``lienhop rederive``, and the first open of
a store that holds records from before works (migration 0005 leaves it a ``works_pending`` flag).

Link keys are computed again from every record, so a changed rule reaches them all; identifier and
title groups are streamed in key order and linked as they pass. What is held for the whole store is a
few flat arrays indexed by record primary key or work number (8 bytes an entry, not a dict of int
objects and strings at ten times that), and the changes are written in batches as they are found, so
memory grows by tens of MB a million records, not by a graph of objects.

The rules are those of ``store.clusters`` (``assign`` with ``keep="oldest"``, and ``work_links.apply``
for what is written), worked out on the arrays: a component's root is its oldest record, each old work
names as heir the component holding its oldest live record, a component named by several keeps the
oldest work's id (the others redirect to it), one named by none is a new work.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.progress import NullProgress, ProgressSink

from .clusters import LINKING, DenseUnionFind, link_title_group, work_id, work_ord
from .clusters import work_keys as keys_of
from .tables import counters, record_identifiers, records, work_keys, work_overrides, works
from .work_links import insert_keys, key_row, move_records, one_of, reserve, reserve_numbers, write_works

_BATCH = 2000  # records read per statement
_WRITES = 5000  # rows written per statement
_STREAM = 5000  # rows fetched at a time from a streamed query

_PENDING = "works_pending"  # a counter row migration 0005 leaves in a store that holds records

# what ``_Store.flag`` holds for a record's pk
_ABSENT, _LINKABLE, _SPLIT = 0, 1, 2  # no live record; live; live but a curator split it off


async def needs_clustering(conn: AsyncConnection) -> bool:
    """Whether the store holds records from before works that were never clustered (one lookup of a
    primary key, so opening a store costs nothing more)."""
    return (await conn.scalar(select(counters.c.value).where(counters.c.name == _PENDING))) is not None


async def recluster_all(conn: AsyncConnection, progress: ProgressSink | None = None) -> int:
    """Cluster every live record again from the store alone; returns how many works changed.

    Link keys are computed again from each record (a changed rule reaches every record), curator
    overrides are kept, and a work keeps its id when its component still holds its oldest record.
    """
    sink = progress or NullProgress()
    await reserve(conn, "records_seq", 0)  # the write lock first, as every writer takes it
    top = int(await conn.scalar(select(records.c.pk).order_by(records.c.pk.desc()).limit(1)) or 0)
    sink.begin("works", total=top)
    await conn.execute(delete(work_keys))
    flag = bytearray(top + 1)
    old = array("q", bytes(8 * (top + 1)))  # the work number of each live record before, 0 for none
    last = 0
    while True:
        query = (
            select(records.c.pk, records.c.work_id, records.c.data)
            .where(records.c.pk > last, records.c.deleted.is_(False))
            .order_by(records.c.pk)
            .limit(_BATCH)
        )
        batch = (await conn.execute(query)).all()
        if not batch:
            break
        key_rows = []
        for pk, work, data in batch:
            flag[pk] = _LINKABLE
            if work is not None:
                old[pk] = work_ord(work)
            keys = keys_of(data if isinstance(data, dict) else json.loads(data))
            if keys is not None:
                key_rows.append(key_row(pk, keys))
        if key_rows:
            await insert_keys(conn, key_rows)
        sink.advance("works", batch[-1].pk - last)
        last = batch[-1].pk

    uf = DenseUnionFind(top + 1)
    joins = await _overrides(conn, flag)
    await _link(conn, uf, flag)
    for a, b in joins:
        uf.union(a, b)
    changed, parts = await _write(conn, uf, flag, old)
    await conn.execute(delete(counters).where(counters.c.name == _PENDING))
    sink.end("works", message=f"{parts} works, {changed} changed")
    return changed


async def _overrides(conn: AsyncConnection, flag: bytearray) -> list[tuple[int, int]]:
    """Mark the live records a curator split off in ``flag``; the curator's joins between live records."""
    o = work_overrides.c
    overrides = (await conn.execute(select(o.kind, o.record_id, o.other_record_id))).all()
    named = {rid for row in overrides for rid in (row[1], row[2]) if rid is not None}
    pk_of: dict[str, int] = {}
    if named:
        ids_query = select(records.c.id, records.c.pk).where(one_of(conn, records.c.id, named))
        pk_of.update((rid, pk) for rid, pk in await conn.execute(ids_query))
    for kind, rid, _other in overrides:
        if kind == "split" and rid in pk_of and flag[pk_of[rid]] != _ABSENT:
            flag[pk_of[rid]] = _SPLIT
    return [
        (pk_of[rid], pk_of[other])
        for kind, rid, other in overrides
        if kind == "join"
        and rid in pk_of
        and other in pk_of
        and flag[pk_of[rid]] != _ABSENT
        and flag[pk_of[other]] != _ABSENT
    ]


async def _stream(conn: AsyncConnection, query: Any) -> Any:
    """The rows of ``query`` a few thousand at a time (a server-side cursor), never all at once."""
    result = await conn.stream(query)
    async for rows in result.partitions(_STREAM):
        yield rows


async def _link(conn: AsyncConnection, uf: DenseUnionFind, flag: bytearray) -> None:
    """Union the records sharing an identifier (ISSN: journals), then those sharing a title key."""
    ri, wk = record_identifiers.c, work_keys.c
    identifier_groups = (
        select(ri.kind, ri.value, ri.record_pk).where(ri.kind.in_(LINKING)).order_by(ri.kind, ri.value)
    )
    journal_groups = (
        select(ri.kind, ri.value, ri.record_pk)
        .join(work_keys, and_(wk.record_pk == ri.record_pk, wk.journal.is_(True)))
        .where(ri.kind == "issn")
        .order_by(ri.value)
    )
    for query in (identifier_groups, journal_groups):
        previous, first = None, 0
        async for rows in _stream(conn, query):
            for kind, value, pk in rows:
                if flag[pk] != _LINKABLE:
                    continue
                if (kind, value) == previous:
                    uf.union(first, pk)
                else:
                    previous, first = (kind, value), pk
    title_groups = select(wk.title_key, wk.record_pk, wk.publisher).where(wk.title_key.is_not(None))
    group: list[tuple[int, str | None]] = []
    current = None
    async for rows in _stream(conn, title_groups.order_by(wk.title_key)):
        for title_key, pk, publisher in rows:
            if title_key != current:
                link_title_group(uf, group)
                group, current = [], title_key
            if flag[pk] == _LINKABLE:
                group.append((pk, publisher))
    link_title_group(uf, group)


def _live(flag: bytearray) -> Iterator[int]:
    """The live records' pks, oldest first."""
    return (pk for pk, f in enumerate(flag) if f)


async def _write(
    conn: AsyncConnection, uf: DenseUnionFind, flag: bytearray, old: array[int]
) -> tuple[int, int]:
    """Give each component its work id and write what changed; (works changed, components)."""
    top_ord = max(old, default=0)
    heir = array("q", bytes(8 * (top_ord + 1)))  # per old work: the root of its oldest live record, 0 none
    best = array("q", bytes(8 * len(flag)))  # per root: the oldest old work naming it (0 none, then new)
    for pk in _live(flag):
        work = old[pk]
        if work and not heir[work]:
            root = heir[work] = uf.find(pk)
            if not best[root] or work < best[root]:
                best[root] = work
    merged = sorted(
        (heir[work], work) for work in range(1, top_ord + 1) if heir[work] and best[heir[work]] != work
    )  # component order, then the oldest work first, as ``assign`` lists them
    # a kept work changes when a record enters or leaves it; a new work's records all move
    moved = bytearray(top_ord + 1)
    fresh = parts = 0
    for pk in _live(flag):
        root = uf.find(pk)
        work = best[root]
        if pk == root:
            parts += 1
            fresh += not work
        if work != old[pk]:
            moved[old[pk]] = 1
            moved[work] = 1
    kept = [best[pk] for pk in _live(flag) if uf.find(pk) == pk and best[pk] and moved[best[pk]]]
    emptied: list[int] = []
    alive_works = select(works.c.ord).where(works.c.alive.is_(True)).order_by(works.c.ord)
    async for rows in _stream(conn, alive_works):
        emptied.extend(o for (o,) in rows if o > top_ord or not heir[o])
    dead = [*(work for _root, work in merged), *emptied]
    ord_, seq = await reserve_numbers(conn, fresh, fresh + len(kept) + len(dead))

    new_works: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    for pk in _live(flag):
        root = uf.find(pk)
        if pk == root and not best[root]:
            ord_ += 1
            seq += 1
            best[root] = ord_
            new_works.append(
                {"id": work_id(ord_), "ord": ord_, "seq": seq, "alive": True, "merged_into": None}
            )
        if best[root] != old[pk]:
            moves.append({"_pk": pk, "_work": work_id(best[root])})
        if len(new_works) >= _WRITES or len(moves) >= _WRITES:
            await write_works(conn, new_works, [], {})
            await move_records(conn, moves)
            new_works, moves = [], []
    await write_works(conn, new_works, [], {})
    await move_records(conn, moves)
    winner = {work: best[root] for root, work in merged}
    changes: list[dict[str, Any]] = []
    for n, work in enumerate((*kept, *dead)):
        seq += 1
        into = winner.get(work)
        alive = n < len(kept)
        changes.append(
            {
                "_id": work_id(work),
                "seq": seq,
                "alive": alive,
                "merged_into": None if into is None else work_id(into),
            }
        )
        if len(changes) >= _WRITES:
            await write_works(conn, [], changes, {})
            changes = []
    await write_works(conn, [], changes, {})
    redirects = [(work_id(loser), work_id(into)) for loser, into in winner.items()]
    for start in range(0, len(redirects), _WRITES):
        await write_works(conn, [], [], dict(redirects[start : start + _WRITES]))
    return fresh + len(kept) + len(dead), parts

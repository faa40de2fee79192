"""Clustering the whole store again, from the store alone: ``lienhop rederive``, and the first open of
a store that holds records from before works (migration 0005 leaves it a ``works_pending`` flag).

Link keys are computed again from every record, so a changed rule reaches them all; identifier and
title groups are read in key order and linked as they stream past, so the whole store is never held
as one graph of objects.
"""

from __future__ import annotations

import json

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.progress import NullProgress, ProgressSink

from .clusters import LINKING, UnionFind, assign, link_title_group
from .clusters import work_keys as keys_of
from .tables import counters, record_identifiers, records, work_keys, work_overrides, works
from .work_links import apply, key_row, one_of, reserve

_BATCH = 2000  # records read per statement


_PENDING = "works_pending"  # a counter row migration 0005 leaves in a store that holds records


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
    total = await conn.scalar(select(records.c.pk).order_by(records.c.pk.desc()).limit(1))
    sink.begin("works", total=int(total or 0))
    await conn.execute(delete(work_keys))
    uf = UnionFind()
    old: dict[int, str | None] = {}
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
            uf.add(pk)
            old[pk] = work
            keys = keys_of(data if isinstance(data, dict) else json.loads(data))
            if keys is not None:
                key_rows.append(key_row(pk, keys))
        if key_rows:
            await conn.execute(insert(work_keys), key_rows)
        sink.advance("works", batch[-1].pk - last)
        last = batch[-1].pk

    o = work_overrides.c
    overrides = (await conn.execute(select(o.kind, o.record_id, o.other_record_id))).all()
    named = {rid for row in overrides for rid in (row[1], row[2]) if rid is not None}
    pk_of: dict[str, int] = {}
    if named:
        ids_query = select(records.c.id, records.c.pk).where(one_of(conn, records.c.id, named))
        pk_of.update((rid, pk) for rid, pk in await conn.execute(ids_query))
    split = {pk_of[rid] for kind, rid, _other in overrides if kind == "split" and rid in pk_of}

    def linkable(pk: int) -> bool:
        return pk in uf.parent and pk not in split

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
        for kind, value, pk in await conn.execute(query):
            if not linkable(pk):
                continue
            if (kind, value) == previous:
                uf.union(first, pk)
            else:
                previous, first = (kind, value), pk
    title_groups = select(wk.title_key, wk.record_pk, wk.publisher).where(wk.title_key.is_not(None))
    group: list[tuple[int, str | None]] = []
    current = None
    for title_key, pk, publisher in await conn.execute(title_groups.order_by(wk.title_key)):
        if title_key != current:
            link_title_group(uf, group)
            group, current = [], title_key
        if linkable(pk):
            group.append((pk, publisher))
    link_title_group(uf, group)
    for kind, rid, other in overrides:
        if (
            kind == "join"
            and rid in pk_of
            and other in pk_of
            and pk_of[rid] in uf.parent
            and pk_of[other] in uf.parent
        ):
            uf.union(pk_of[rid], pk_of[other])

    parts = uf.groups()
    alive = set((await conn.scalars(select(works.c.id).where(works.c.alive.is_(True)))).all())
    known = {pk: work for pk, work in old.items() if work is not None}
    assignment = assign(parts, known, alive, "oldest")
    changed = await apply(conn, parts, assignment, old, set())
    await conn.execute(delete(counters).where(counters.c.name == _PENDING))
    sink.end("works", message=f"{len(parts)} works, {changed} changed")
    return changed

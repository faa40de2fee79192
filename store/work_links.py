"""Keeping ``records.work_id`` true: re-cluster what a committed page touches, or the whole store.

``recluster_page`` runs inside the transaction of every page commit (new, changed and deleted records,
tombstones included), so a record is never visible in a work it no longer belongs to. It works on the
*region* of the page: every work holding a changed record or a record linked to one. Edges into the
region from outside would have to pass through a changed record (every other edge was already inside
a work), so the components of the region are the store's components there, and nothing else moves.
A handful of set-based statements per page, not per record: the harvest pays for them.

Work ids follow ``store.clusters.assign``; every work whose records or membership changed, and every
work merged away or emptied, takes a new number from the store-wide change sequence (the counter the
records use), so an index follows works by one position as it follows records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, any_, bindparam, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.progress import NullProgress, ProgressSink

from .clusters import LINKING, Assignment, Node, UnionFind, WorkKeys, assign, components, link_title_group
from .clusters import work_id as make_work_id
from .clusters import work_keys as keys_of
from .rows import RecordRow
from .tables import counters, record_identifiers, records, work_keys, work_overrides, works

_BATCH = 2000  # records read per statement by a full re-clustering


def one_of(conn: AsyncConnection, column: Any, values: Sequence[Any]) -> Any:
    """``column IN (values)``; one bound array on PostgreSQL (see ``RecordStore._one_of``)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def chunks(conn: AsyncConnection, values: Iterable[Any]) -> Iterable[list[Any]]:
    """``values`` in lists small enough for one statement (999 parameters is any SQLite's limit)."""
    items = list(values)
    size = 5000 if conn.dialect.name == "postgresql" else 900
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def reserve(conn: AsyncConnection, name: str, n: int) -> int:
    """Take ``n`` numbers from a store counter; returns the one before the first taken. ``n = 0``
    takes nothing but the counter's lock (SQLite's write lock), as ``RecordStore._reserve_seq`` does."""
    result = await conn.execute(
        update(counters)
        .where(counters.c.name == name)
        .values(value=counters.c.value + n)
        .returning(counters.c.value)
    )
    return int(result.scalar_one()) - n


def _key_row(pk: int, keys: WorkKeys) -> dict[str, Any]:
    return {
        "record_pk": pk,
        "title": keys.title,
        "title_key": keys.title_key,
        "publisher": keys.publisher,
        "journal": keys.journal,
    }


async def recluster_page(
    conn: AsyncConnection, changed: Mapping[str, int], rows: Mapping[str, RecordRow]
) -> None:
    """Bring the works up to date after a page wrote ``changed`` (pk by OAI identifier) from ``rows``.

    Called after the page's records and ``record_identifiers`` rows are written, in its transaction.
    """
    if not changed:
        return
    pks = list(changed.values())
    for chunk in chunks(conn, pks):
        await conn.execute(delete(work_keys).where(one_of(conn, work_keys.c.record_pk, chunk)))
    key_rows = []
    for oai_id, pk in changed.items():
        row = rows[oai_id]
        keys = None if row.deleted else keys_of(json.loads(row.data))
        if keys is not None:
            key_rows.append(_key_row(pk, keys))
    if key_rows:
        await conn.execute(insert(work_keys), key_rows)
    await recluster_records(conn, pks)


async def recluster_records(conn: AsyncConnection, pks: Sequence[int]) -> None:
    """Re-cluster the region of records ``pks`` (whose content, keys or overrides just changed; each
    of their works takes a new change number) from their keys and overrides as stored now."""
    # the works of the records, and of every record they now link to or a curator joined them with
    found: dict[int, tuple[str, str | None, bool]] = {}  # pk -> (record id, work id, deleted)
    for chunk in chunks(conn, pks):
        await _read_records(conn, found, records.c.pk, chunk)
    live = [pk for pk, (_rid, _work, deleted) in found.items() if not deleted]
    linked: set[int] = set()
    for query in (_identifier_neighbours, _journal_neighbours, _title_neighbours):
        for chunk in chunks(conn, live):
            linked.update(await conn.scalars(query(conn, chunk)))
    named = [rid for rid, _work, _deleted in found.values()]
    partners = {rid for o in await _overrides(conn, named) for rid in o[1:] if rid is not None} - set(named)
    for chunk in chunks(conn, partners):
        await _read_records(conn, found, records.c.id, chunk)
    for chunk in chunks(conn, linked - set(found)):
        await _read_records(conn, found, records.c.pk, chunk)
    touched = {work for _rid, work, _deleted in found.values() if work is not None}
    for chunk in chunks(conn, touched):
        await _read_records(conn, found, records.c.work_id, chunk)

    nodes, joins = await nodes_of(conn, {pk: rid for pk, (rid, _w, deleted) in found.items() if not deleted})
    parts = components(nodes, joins)
    old = {pk: work for pk, (_rid, work, _deleted) in found.items()}
    live_old = {pk: work for pk, (_rid, work, deleted) in found.items() if work is not None and not deleted}
    await apply(conn, parts, assign(parts, live_old, touched, "largest"), old, set(pks))


async def _read_records(
    conn: AsyncConnection, found: dict[int, tuple[str, str | None, bool]], column: Any, values: list[Any]
) -> None:
    query = select(records.c.pk, records.c.id, records.c.work_id, records.c.deleted).where(
        one_of(conn, column, values)
    )
    for pk, rid, work, deleted in await conn.execute(query):
        found[pk] = (rid, work, bool(deleted))


def _identifier_neighbours(conn: AsyncConnection, pks: list[int]) -> Any:
    a, b = record_identifiers.alias("a"), record_identifiers.alias("b")
    return (
        select(b.c.record_pk)
        .select_from(a.join(b, and_(b.c.kind == a.c.kind, b.c.value == a.c.value)))
        .where(one_of(conn, a.c.record_pk, pks), a.c.kind.in_(LINKING))
    )


def _journal_neighbours(conn: AsyncConnection, pks: list[int]) -> Any:
    a, b = record_identifiers.alias("a"), record_identifiers.alias("b")
    ka, kb = work_keys.alias("ka"), work_keys.alias("kb")
    return (
        select(b.c.record_pk)
        .select_from(
            a.join(ka, and_(ka.c.record_pk == a.c.record_pk, ka.c.journal.is_(True)))
            .join(b, and_(b.c.kind == a.c.kind, b.c.value == a.c.value))
            .join(kb, and_(kb.c.record_pk == b.c.record_pk, kb.c.journal.is_(True)))
        )
        .where(one_of(conn, a.c.record_pk, pks), a.c.kind == "issn")
    )


def _title_neighbours(conn: AsyncConnection, pks: list[int]) -> Any:
    a, b = work_keys.alias("a"), work_keys.alias("b")
    return (
        select(b.c.record_pk)
        .select_from(a.join(b, b.c.title_key == a.c.title_key))
        .where(one_of(conn, a.c.record_pk, pks), a.c.title_key.is_not(None))
    )


async def _overrides(conn: AsyncConnection, record_ids: list[str]) -> list[tuple[str, str, str | None]]:
    """(kind, record id, other record id) of the overrides naming any of ``record_ids``."""
    found: set[tuple[str, str, str | None]] = set()
    o = work_overrides.c
    for chunk in chunks(conn, record_ids):
        query = select(o.kind, o.record_id, o.other_record_id).where(
            or_(one_of(conn, o.record_id, chunk), one_of(conn, o.other_record_id, chunk))
        )
        found.update((kind, rid, other) for kind, rid, other in await conn.execute(query))
    return sorted(found, key=lambda o: (o[0], o[1], o[2] or ""))


async def nodes_of(
    conn: AsyncConnection, region: Mapping[int, str]
) -> tuple[list[Node], list[tuple[int, int]]]:
    """The clustering view of the live records ``region`` (record id by pk), and the curator's joins
    between them, read from ``record_identifiers``, ``work_keys`` and ``work_overrides``."""
    nodes = {pk: Node(pk) for pk in region}
    issns: dict[int, list[str]] = {}
    ri, wk = record_identifiers.c, work_keys.c
    for chunk in chunks(conn, list(region)):
        query = select(ri.record_pk, ri.kind, ri.value).where(
            one_of(conn, ri.record_pk, chunk), ri.kind.in_((*LINKING, "issn"))
        )
        for pk, kind, value in await conn.execute(query):
            (issns.setdefault(pk, []) if kind == "issn" else nodes[pk].idents).append(f"{kind}:{value}")
        keys_query = select(wk.record_pk, wk.title_key, wk.publisher, wk.journal).where(
            one_of(conn, wk.record_pk, chunk)
        )
        for pk, title_key, publisher, journal in await conn.execute(keys_query):
            node = nodes[pk]
            node.title_key, node.publisher = title_key, publisher
            if journal:
                node.idents.extend(issns.get(pk, ()))
    pk_of = {rid: pk for pk, rid in region.items()}
    joins: list[tuple[int, int]] = []
    for kind, rid, other in await _overrides(conn, list(region.values())):
        if kind == "split" and rid in pk_of:
            nodes[pk_of[rid]].split = True
        elif kind == "join" and rid in pk_of and other in pk_of:
            joins.append((pk_of[rid], pk_of[other]))
    return list(nodes.values()), joins


async def apply(
    conn: AsyncConnection,
    parts: Sequence[Sequence[int]],
    assignment: Assignment,
    old: Mapping[int, str | None],
    changed: set[int],
) -> int:
    """Write an assignment: new works, new change numbers, redirects, and each record's work.

    ``old``: the work of every record concerned before (a deleted record included: it leaves its
    work); ``changed``: records whose content changed, whose work changes with them. Returns how
    many works changed (new, changed, merged away or emptied).
    """
    fresh = [i for i, wid in enumerate(assignment.ids) if wid is None]
    ord_ = await reserve(conn, "works_ord", len(fresh)) if fresh else 0
    ids = list(assignment.ids)
    new_works: dict[str, int] = {}
    for index in fresh:
        ord_ += 1
        ids[index] = make_work_id(ord_)
        new_works[make_work_id(ord_)] = ord_
    before: dict[str, set[int]] = {}
    for pk, work in old.items():
        if work is not None:
            before.setdefault(work, set()).add(pk)
    moves: list[dict[str, Any]] = []
    kept: list[str] = []
    placed: set[int] = set()
    for part, wid in zip(parts, ids, strict=True):
        assert wid is not None
        members = set(part)
        placed |= members
        if wid not in new_works and (members != before.get(wid) or not members.isdisjoint(changed)):
            kept.append(wid)
        moves.extend({"_pk": pk, "_work": wid} for pk in part if old.get(pk) != wid)
    moves.extend(
        {"_pk": pk, "_work": None} for pk, work in old.items() if work is not None and pk not in placed
    )
    dead = [*assignment.merged, *assignment.emptied]
    seq = await reserve(conn, "records_seq", len(new_works) + len(kept) + len(dead))
    if new_works:
        rows = []
        for wid, number in new_works.items():
            seq += 1
            rows.append({"id": wid, "ord": number, "seq": seq, "alive": True, "merged_into": None})
        await conn.execute(insert(works), rows)
    changes = []
    for wid in kept:
        seq += 1
        changes.append({"_id": wid, "seq": seq, "alive": True, "merged_into": None})
    for wid in dead:
        seq += 1
        changes.append({"_id": wid, "seq": seq, "alive": False, "merged_into": assignment.merged.get(wid)})
    if changes:
        await conn.execute(update(works).where(works.c.id == bindparam("_id")), changes)
    if assignment.merged:
        # earlier redirects to a work merged now go straight to where it went
        await conn.execute(
            update(works)
            .where(works.c.merged_into == bindparam("_loser"))
            .values(merged_into=bindparam("_winner")),
            [{"_loser": loser, "_winner": winner} for loser, winner in assignment.merged.items()],
        )
    if moves:
        await conn.execute(
            update(records).where(records.c.pk == bindparam("_pk")).values(work_id=bindparam("_work")), moves
        )
    return len(new_works) + len(kept) + len(dead)


async def needs_clustering(conn: AsyncConnection) -> bool:
    """Whether live records have no work yet (a store upgraded to works, before its first clustering)."""
    query = select(records.c.pk).where(records.c.work_id.is_(None), records.c.deleted.is_(False)).limit(1)
    return (await conn.scalar(query)) is not None


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
                key_rows.append(_key_row(pk, keys))
        if key_rows:
            await conn.execute(insert(work_keys), key_rows)
        sink.advance("works", batch[-1].pk - last)
        last = batch[-1].pk

    o = work_overrides.c
    overrides = (await conn.execute(select(o.kind, o.record_id, o.other_record_id))).all()
    named = {rid for row in overrides for rid in (row[1], row[2]) if rid is not None}
    pk_of: dict[str, int] = {}
    for chunk in chunks(conn, named):
        ids_query = select(records.c.id, records.c.pk).where(one_of(conn, records.c.id, chunk))
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
    sink.end("works", message=f"{len(parts)} works, {changed} changed")
    return changed

"""Keeping ``records.work_id`` true: re-cluster what a committed page touches (all: ``work_rebuild``).

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from .clusters import LINKING, Assignment, Node, WorkKeys, assign, components
from .clusters import work_id as make_work_id
from .rows import RecordRow
from .tables import counters, record_identifiers, records, work_keys, work_overrides, works


def one_of(conn: AsyncConnection, column: Any, values: Iterable[Any]) -> Any:
    """``column IN (values)`` with one bound parameter, whatever the number of values: an array on
    PostgreSQL (see ``RecordStore._one_of``), a JSON array read by ``json_each`` on SQLite. So a page
    needs no chunking and the statement is compiled once."""
    return in_param(conn.dialect.name, column, bindparam(None, bound(conn, values)))


def in_param(dialect: str, column: Any, param: Any) -> Any:
    """``column IN`` the list bound to ``param`` (its value made by :func:`bound`)."""
    if dialect == "postgresql":
        param.type = ARRAY(column.type)
        return column == any_(param)
    param.type = Text()
    return column.in_(select(func.json_each(param).table_valued("value").c.value))


def bound(conn: AsyncConnection, values: Iterable[Any]) -> Any:
    """The value of a list parameter of :func:`in_param`."""
    return list(values) if conn.dialect.name == "postgresql" else json.dumps(list(values))


# statements a page runs, built once per dialect: building the Core constructs cost more than running them
_STATEMENTS: dict[tuple[str, str], Any] = {}


def _statement(conn: AsyncConnection, name: str, build: Callable[[str], Any]) -> Any:
    key = (conn.dialect.name, name)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = build(conn.dialect.name)
    return _STATEMENTS[key]


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


async def _executemany(conn: AsyncConnection, statement: Any, sql: str, rows: list[dict[str, Any]]) -> None:
    """``statement`` for every row; on SQLite as one driver ``executemany`` of ``sql`` (named
    parameters), without SQLAlchemy's per-row handling (see ``RecordStore._write_rows_sqlite``)."""
    if conn.dialect.name != "sqlite":
        await conn.execute(statement, rows)
        return
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    cursor = await driver.executemany(sql, rows)
    await cursor.close()


def key_row(pk: int, keys: WorkKeys) -> dict[str, Any]:
    return {
        "record_pk": pk,
        "title": keys.title,
        "title_key": keys.title_key,
        "publisher": keys.publisher,
        "journal": keys.journal,
    }


_INSERT_KEYS = (
    "INSERT INTO work_keys (record_pk, title, title_key, publisher, journal) "
    "VALUES (:record_pk, :title, :title_key, :publisher, :journal)"
)


async def insert_keys(conn: AsyncConnection, key_rows: list[dict[str, Any]]) -> None:
    """Insert ``work_keys`` rows made by :func:`key_row`."""
    await _executemany(conn, insert(work_keys), _INSERT_KEYS, key_rows)


async def recluster_page(
    conn: AsyncConnection, changed: Mapping[str, int], stale: Sequence[int], rows: Mapping[str, RecordRow]
) -> None:
    """Bring the works up to date after a page wrote ``changed`` (pk by OAI identifier) from ``rows``;
    ``stale``: the pks of rows that were there before (only they can have keys to replace).

    Called after the page's records and ``record_identifiers`` rows are written, in its transaction.
    """
    if not changed:
        return
    if stale:
        await conn.execute(delete(work_keys).where(one_of(conn, work_keys.c.record_pk, stale)))
    key_rows = []
    for oai_id, pk in changed.items():
        keys = rows[oai_id].keys  # made with the row, from the record (a tombstone has none)
        if keys is not None:
            key_rows.append(key_row(pk, keys))
    if key_rows:
        await insert_keys(conn, key_rows)
    await recluster_records(conn, list(changed.values()))


async def recluster_records(conn: AsyncConnection, pks: Sequence[int]) -> None:
    """Re-cluster the region of records ``pks`` (whose content, keys or overrides just changed; each
    of their works takes a new change number) from their keys and overrides as stored now."""
    found: dict[int, tuple[str, str | None, bool]] = {}  # pk -> (record id, work id, deleted)
    region = _statement(conn, "region", _region)
    for pk, rid, work, deleted in await conn.execute(region, {"pks": bound(conn, pks)}):
        found[pk] = (rid, work, bool(deleted))
    touched = {work for _rid, work, _deleted in found.values() if work is not None}
    nodes, joins = await nodes_of(conn, {pk: rid for pk, (rid, _w, deleted) in found.items() if not deleted})
    parts = components(nodes, joins)
    old = {pk: work for pk, (_rid, work, _deleted) in found.items()}
    live_old = {pk: work for pk, (_rid, work, deleted) in found.items() if work is not None and not deleted}
    await apply(conn, parts, assign(parts, live_old, touched, "largest"), old, set(pks))


def _region(dialect: str) -> Any:
    """One statement for the region of records ``:pks``: (pk, id, work_id, deleted) of the records, of
    every record linked to one of them (identifiers, journal ISSN, title key, curator joins), and of
    every record in the works of all those."""
    page = select(records.c.pk).where(in_param(dialect, records.c.pk, bindparam("pks"))).cte("page")
    in_page = select(page.c.pk)
    a, b = record_identifiers.alias("a"), record_identifiers.alias("b")
    ka, kb = work_keys.alias("ka"), work_keys.alias("kb")
    r1, r2 = records.alias("r1"), records.alias("r2")
    o = work_overrides.alias("o")
    same_identifier = and_(b.c.kind == a.c.kind, b.c.value == a.c.value)
    # each branch starts from the page's records: SQLite without statistics would rather scan the
    # index on (kind, value) than probe ``record_pk``, so ``a.kind`` is tested through lower(), which
    # no index serves
    linked = union(
        in_page,
        select(b.c.record_pk)
        .select_from(page.join(a, a.c.record_pk == page.c.pk).join(b, same_identifier))
        .where(func.lower(a.c.kind).in_(LINKING)),
        select(b.c.record_pk).select_from(
            page.join(ka, and_(ka.c.record_pk == page.c.pk, ka.c.journal.is_(True)))
            .join(a, and_(a.c.record_pk == page.c.pk, func.lower(a.c.kind) == "issn"))
            .join(b, same_identifier)
            .join(kb, and_(kb.c.record_pk == b.c.record_pk, kb.c.journal.is_(True)))
        ),
        select(kb.c.record_pk)
        .select_from(page.join(ka, ka.c.record_pk == page.c.pk).join(kb, kb.c.title_key == ka.c.title_key))
        .where(ka.c.title_key.is_not(None)),
        select(r2.c.pk).select_from(
            page.join(r1, r1.c.pk == page.c.pk)
            .join(o, o.c.record_id == r1.c.id)
            .join(r2, r2.c.id == o.c.other_record_id)
        ),
        select(r2.c.pk).select_from(
            page.join(r1, r1.c.pk == page.c.pk)
            .join(o, o.c.other_record_id == r1.c.id)
            .join(r2, r2.c.id == o.c.record_id)
        ),
    ).cte("linked")
    in_linked = select(linked.c.pk)
    columns = (records.c.pk, records.c.id, records.c.work_id, records.c.deleted)
    return union(
        select(*columns).where(records.c.pk.in_(in_linked)),
        select(*columns).where(
            records.c.work_id.in_(
                select(r1.c.work_id).where(r1.c.pk.in_(in_linked), r1.c.work_id.is_not(None))
            )
        ),
    )


async def nodes_of(
    conn: AsyncConnection, region: Mapping[int, str]
) -> tuple[list[Node], list[tuple[int, int]]]:
    """The clustering view of the live records ``region`` (record id by pk), and the curator's joins
    between them, read in one statement from ``record_identifiers``, ``work_keys`` and
    ``work_overrides`` (an override's row has no pk: kind, record id, other record id)."""
    nodes = {pk: Node(pk) for pk in region}
    query = _statement(conn, "keys", _keys)
    params = {"pks": bound(conn, region), "ids": bound(conn, region.values())}
    issns: dict[int, list[str]] = {}
    journals: set[int] = set()
    overrides: set[tuple[str, str, str | None]] = set()
    for pk, kind, value, publisher, journal, title_key in await conn.execute(query, params):
        if pk is None:
            overrides.add((kind, value, publisher))
        elif kind == "key":
            node = nodes[pk]
            node.title_key, node.publisher = title_key, publisher
            if journal:
                journals.add(pk)
        elif kind == "issn":
            issns.setdefault(pk, []).append(f"issn:{value}")
        else:
            nodes[pk].idents.append(f"{kind}:{value}")
    for pk in journals:
        nodes[pk].idents.extend(issns.get(pk, ()))
    pk_of = {rid: pk for pk, rid in region.items()}
    joins: list[tuple[int, int]] = []
    for kind, rid, other in sorted(overrides, key=lambda o: (o[0], o[1], o[2] or "")):
        if kind == "split" and rid in pk_of:
            nodes[pk_of[rid]].split = True
        elif kind == "join" and rid in pk_of and other in pk_of:
            joins.append((pk_of[rid], pk_of[other]))
    return list(nodes.values()), joins


def _keys(dialect: str) -> Any:
    """The keys of records ``:pks`` (record id ``:ids``) for :func:`nodes_of`, in one statement."""
    ri, wk, o = record_identifiers.c, work_keys.c, work_overrides.c
    text, flag, number = cast(null(), Text()), cast(null(), Boolean()), cast(null(), BigInteger())
    ids: Any = bindparam("ids")
    return union_all(
        select(ri.record_pk, ri.kind, ri.value, text, flag, number).where(
            in_param(dialect, ri.record_pk, bindparam("pks")),
            func.lower(ri.kind).in_((*LINKING, "issn")),  # lower(): see _region
        ),
        select(wk.record_pk, literal("key", String()), text, wk.publisher, wk.journal, wk.title_key).where(
            in_param(dialect, wk.record_pk, bindparam("pks"))
        ),
        select(cast(null(), records.c.pk.type), o.kind, o.record_id, o.other_record_id, flag, number).where(
            or_(in_param(dialect, o.record_id, ids), in_param(dialect, o.other_record_id, ids))
        ),
    )


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
    before: dict[str, set[int]] = {}
    for pk, work in old.items():
        if work is not None:
            before.setdefault(work, set()).add(pk)
    kept = [
        wid
        for part, wid in zip(parts, assignment.ids, strict=True)
        if wid is not None and (set(part) != before.get(wid) or not changed.isdisjoint(part))
    ]
    dead = [*assignment.merged, *assignment.emptied]
    fresh = sum(wid is None for wid in assignment.ids)
    ord_, seq = await reserve_numbers(conn, fresh, fresh + len(kept) + len(dead))
    new_works: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    placed: set[int] = set()
    for part, kept_id in zip(parts, assignment.ids, strict=True):
        wid = kept_id
        if wid is None:
            ord_ += 1
            seq += 1
            wid = make_work_id(ord_)
            new_works.append({"id": wid, "ord": ord_, "seq": seq, "alive": True, "merged_into": None})
        placed.update(part)
        moves.extend({"_pk": pk, "_work": wid} for pk in part if old.get(pk) != wid)
    moves.extend(
        {"_pk": pk, "_work": None} for pk, work in old.items() if work is not None and pk not in placed
    )
    changes = []
    for wid in kept:
        seq += 1
        changes.append({"_id": wid, "seq": seq, "alive": True, "merged_into": None})
    for wid in dead:
        seq += 1
        changes.append({"_id": wid, "seq": seq, "alive": False, "merged_into": assignment.merged.get(wid)})
    await write_works(conn, new_works, changes, assignment.merged)
    await move_records(conn, moves)
    return len(new_works) + len(kept) + len(dead)


async def write_works(
    conn: AsyncConnection,
    new_works: list[dict[str, Any]],
    changes: list[dict[str, Any]],
    merged: Mapping[str, str],
) -> None:
    """Insert ``new_works`` rows, update ``changes`` (``_id``, seq, alive, merged_into), and send
    the earlier redirects to a work merged now (``merged``: loser -> winner) straight to where it went."""
    if new_works:
        await _executemany(conn, insert(works), _INSERT_WORKS, new_works)
    if changes:
        statement = update(works).where(works.c.id == bindparam("_id"))
        await _executemany(conn, statement, _UPDATE_WORKS, changes)
    if merged:
        await conn.execute(
            update(works)
            .where(works.c.merged_into == bindparam("_loser"))
            .values(merged_into=bindparam("_winner")),
            [{"_loser": loser, "_winner": winner} for loser, winner in merged.items()],
        )


async def move_records(conn: AsyncConnection, moves: list[dict[str, Any]]) -> None:
    """Set ``records.work_id``: ``{"_pk": pk, "_work": work id or None}`` rows."""
    if moves:
        statement = update(records).where(records.c.pk == bindparam("_pk")).values(work_id=bindparam("_work"))
        await _executemany(conn, statement, "UPDATE records SET work_id = :_work WHERE pk = :_pk", moves)


_UPDATE_WORKS = "UPDATE works SET seq = :seq, alive = :alive, merged_into = :merged_into WHERE id = :_id"
_INSERT_WORKS = (
    "INSERT INTO works (id, ord, seq, alive, merged_into) VALUES (:id, :ord, :seq, :alive, :merged_into)"
)


async def reserve_numbers(conn: AsyncConnection, works_n: int, seq_n: int) -> tuple[int, int]:
    """Take ``works_n`` work numbers and ``seq_n`` change numbers in one statement; the numbers before
    the first of each."""
    if not works_n:
        return 0, await reserve(conn, "records_seq", seq_n)
    c = counters.c
    result = await conn.execute(
        update(counters)
        .where(c.name.in_(("works_ord", "records_seq")))
        .values(value=c.value + case((c.name == "works_ord", works_n), else_=seq_n))
        .returning(c.name, c.value)
    )
    got = {name: int(value) for name, value in result}
    return got["works_ord"] - works_n, got["records_seq"] - seq_n

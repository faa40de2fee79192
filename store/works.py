"""Works in the record store: what :class:`~store.records.RecordStore` answers about them.

Records describing the same edition, held by several members, form one work (``store/clusters.py``
says which; ``store/work_links.py`` keeps ``records.work_id`` true in the transaction of every page).
A curator may split a record off its work or join two works; those overrides are stored and survive
re-clustering. A work merged into another redirects to it (:class:`~schemas.errors.WorkMoved`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Row, Text, cast, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.errors import InvalidInput, NotFound, WorkMoved
from schemas.normal_forms import normalise_doi, normalise_isbn, normalise_issn
from schemas.progress import ProgressSink
from schemas.record import Record
from schemas.work import WorkOverride

from .clusters import explain, title_hash, work_ord
from .tables import record_identifiers, records, work_keys, work_overrides, works
from .work_links import nodes_of, one_of, recluster_records, reserve
from .work_rebuild import needs_clustering, recluster_all

if TYPE_CHECKING:
    from .records import StoredRecord

log = logging.getLogger(__name__)

_NORMALISE = {"isbn": normalise_isbn, "issn": normalise_issn, "doi": normalise_doi}
_REDIRECT_HOPS = 20  # merges flatten redirects, so one hop is the rule; a bound all the same


@dataclass
class WorkState:
    """A work as stored: its live records (oldest first), why each belongs, the overrides naming them."""

    work_id: str
    seq: int
    records: list[StoredRecord]
    joined_by: dict[str, str | None] = field(default_factory=dict)  # record id -> schemas.work.JoinedBy
    overrides: list[WorkOverride] = field(default_factory=list)


def _stored(row: Any, raw: bool = True) -> StoredRecord:
    from .records import StoredRecord  # records.py builds its store on this module: import when used

    if raw:
        record = Record.model_validate({**row.data, "raw": row.raw})
    else:  # the JSON text validated in one pass (see works_records)
        record = Record.model_validate_json(row.data)
    return StoredRecord(id=row.id, seq=row.seq, deleted=bool(row.deleted), record=record)


def _override(row: Any) -> WorkOverride:
    created = row.created
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return WorkOverride(
        id=row.id,
        kind=row.kind,
        record_id=row.record_id,
        other_record_id=row.other_record_id,
        created=created.isoformat() if created is not None else None,
    )


class WorkStore:
    """The works half of the record store (``RecordStore`` inherits it)."""

    engine: AsyncEngine

    # ------------------------------------------------------------- kept true

    async def _cluster_if_needed(self) -> None:
        """Cluster a store's records the first time it is opened with works (an upgraded store)."""
        async with self.engine.connect() as conn:
            if not await needs_clustering(conn):
                return
        async with self.engine.begin() as conn:
            await reserve(conn, "records_seq", 0)  # another process may be at it: wait, then look again
            if await needs_clustering(conn):
                log.info("clustering the store's records into works (the first time it is opened with works)")
                await recluster_all(conn)

    async def recluster_all(self, progress: ProgressSink | None = None) -> int:
        """Re-cluster every record from the store alone (overrides kept); how many works changed."""
        async with self.engine.begin() as conn:
            return await recluster_all(conn, progress)

    # ------------------------------------------------------------------ read

    async def work_of(self, record_id: str) -> str | None:
        """The work of a live record (None for a tombstone); NotFound for an unknown record."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(records.c.work_id).where(records.c.id == record_id))).first()
        if row is None:
            raise NotFound(f"no record {record_id!r}")
        return row.work_id  # type: ignore[no-any-return]

    async def get_work(self, work_id: str) -> WorkState:
        """A live work; :class:`WorkMoved` for one merged into another, NotFound otherwise."""
        async with self.engine.connect() as conn:
            seq = await self._live_work(conn, work_id)
            query = select(records).where(records.c.work_id == work_id).order_by(records.c.pk)
            rows = (await conn.execute(query)).all()
            region = {row.pk: row.id for row in rows}
            nodes, joins = await nodes_of(conn, region)
            why = explain(nodes, joins)
            overrides = await self._overrides_naming(conn, list(region.values()))
        return WorkState(
            work_id=work_id,
            seq=seq,
            records=[_stored(row) for row in rows],
            joined_by={region[pk]: label for pk, label in why.items()},
            overrides=overrides,
        )

    async def _live_work(self, conn: AsyncConnection, work_id: str) -> int:
        """The change number of a live work, following redirects (raising WorkMoved) or NotFound."""
        wanted = work_id
        for _hop in range(_REDIRECT_HOPS):
            row = (await conn.execute(select(works).where(works.c.id == wanted))).first()
            if row is None:
                break
            if row.alive:
                if wanted != work_id:
                    raise WorkMoved(wanted)
                return int(row.seq)
            if row.merged_into is None:
                raise NotFound(f"work {work_id} has no records left")
            wanted = row.merged_into
        raise NotFound(f"no work {work_id!r}")

    async def work_changes_since(self, seq: int, limit: int = 1000) -> list[tuple[str, int, bool]]:
        """(work id, change number, alive) of the works changed after ``seq``, in sequence order;
        dead works (merged away or emptied) included, so an index can delete them."""
        query = select(works.c.id, works.c.seq, works.c.alive).where(works.c.seq > seq).order_by(works.c.seq)
        async with self.engine.connect() as conn:
            return [(wid, int(s), bool(alive)) for wid, s, alive in await conn.execute(query.limit(limit))]

    async def works_records(self, work_ids: Iterable[str], raw: bool = True) -> dict[str, list[StoredRecord]]:
        """The live records of each work (oldest first); an unknown or dead work has none.

        ``raw=False`` leaves each record's ``raw`` metadata empty: the indexer does not read it, and
        it is the largest column (the whole record as the member sent it).
        """
        found: dict[str, list[StoredRecord]] = {wid: [] for wid in work_ids}
        # the columns a StoredRecord is made of, no more: each one costs its conversion, row after row
        r = records.c
        data = r.data if raw else cast(r.data, Text).label("data")  # text: parsed by pydantic itself
        columns = [r.id, r.seq, r.deleted, r.work_id, data, *([r.raw] if raw else [])]
        async with self.engine.connect() as conn:
            query = (
                select(*columns).where(one_of(conn, r.work_id, found), r.deleted.is_(False)).order_by(r.pk)
            )
            for row in await conn.execute(query):
                found[row.work_id].append(_stored(row, raw))
        return found

    async def count_live_works(self) -> int:
        """Works holding at least one live record."""
        query = select(func.count()).select_from(works).where(works.c.alive.is_(True))
        async with self.engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def iter_live_works(
        self, batch: int = 500, raw: bool = True
    ) -> AsyncIterator[list[tuple[str, list[StoredRecord]]]]:
        """Every live work with its records, ``batch`` works at a time, oldest work first (``raw``: see
        :meth:`works_records`)."""
        last = -1
        while True:
            query = (
                select(works.c.id, works.c.ord)
                .where(works.c.alive.is_(True), works.c.ord > last)
                .order_by(works.c.ord)
                .limit(batch)
            )
            async with self.engine.connect() as conn:
                page = (await conn.execute(query)).all()
            if not page:
                return
            last = page[-1].ord
            held = await self.works_records((row.id for row in page), raw=raw)
            yield [(row.id, held[row.id]) for row in page if held[row.id]]

    async def find_works(self, kind: Literal["isbn", "issn", "doi"], value: str) -> list[str]:
        """The works of the live records carrying identifier ``value`` (any written form), oldest first."""
        normalise = _NORMALISE.get(kind)
        if normalise is None:
            raise InvalidInput(f"kind: {kind!r} is not isbn, issn or doi")
        normal = normalise(value)
        if normal is None:
            return []
        ri = record_identifiers.c
        query = (
            select(records.c.work_id)
            .join(record_identifiers, ri.record_pk == records.c.pk)
            .where(ri.kind == kind, ri.value == normal, records.c.deleted.is_(False))
            .distinct()
        )
        return await self._work_ids(query)

    async def find_works_by_title(self, folded_title: str) -> list[str]:
        """The works of live records whose folded title + subtitle equals ``folded_title`` (folded
        again here, so any written form of the title does), oldest first."""
        key = title_hash(folded_title)
        if key is None:
            return []
        query = (
            select(records.c.work_id)
            .join(work_keys, work_keys.c.record_pk == records.c.pk)
            .where(work_keys.c.title == key, records.c.deleted.is_(False))
            .distinct()
        )
        return await self._work_ids(query)

    async def _work_ids(self, query: Any) -> list[str]:
        async with self.engine.connect() as conn:
            found = [wid for wid in await conn.scalars(query) if wid is not None]
        return sorted(found, key=work_ord)

    async def _overrides_naming(self, conn: AsyncConnection, record_ids: list[str]) -> list[WorkOverride]:
        found: dict[int, WorkOverride] = {}
        o = work_overrides.c
        query = select(work_overrides).where(
            one_of(conn, o.record_id, record_ids) | one_of(conn, o.other_record_id, record_ids)
        )
        found.update((row.id, _override(row)) for row in await conn.execute(query))
        return [found[key] for key in sorted(found)]

    # -------------------------------------------------------------- curators

    async def split_record(self, record_id: str) -> WorkOverride:
        """Keep a live record apart from every other (its curator joins are dropped: the newer
        decision wins). Splitting a record already split answers the override there is."""
        async with self.engine.begin() as conn:
            await reserve(conn, "records_seq", 0)  # the write lock, as every writer takes it first
            pk = await self._live_pk(conn, record_id)
            o = work_overrides.c
            existing = (
                await conn.execute(select(work_overrides).where(o.kind == "split", o.record_id == record_id))
            ).first()
            if existing is not None:
                return _override(existing)
            await conn.execute(
                delete(work_overrides).where(
                    o.kind == "join", (o.record_id == record_id) | (o.other_record_id == record_id)
                )
            )
            row = await self._add_override(conn, "split", record_id, None)
            await recluster_records(conn, [pk])
        return _override(row)

    async def join_works(self, work_a: str, work_b: str) -> WorkOverride:
        """Join two works by a curator's link between a record of each (their oldest not split off;
        a work that is one split record loses its split: the newer decision wins)."""
        async with self.engine.begin() as conn:
            await reserve(conn, "records_seq", 0)
            for wid in (work_a, work_b):
                await self._live_work(conn, wid)
            if work_a == work_b:
                raise InvalidInput(f"work_ids: {work_a} twice; a work cannot be joined with itself")
            (pk_a, rid_a), (pk_b, rid_b) = [await self._representative(conn, wid) for wid in (work_a, work_b)]
            o = work_overrides.c
            await conn.execute(
                delete(work_overrides).where(o.kind == "split", one_of(conn, o.record_id, [rid_a, rid_b]))
            )
            row = await self._add_override(conn, "join", rid_a, rid_b)
            await recluster_records(conn, [pk_a, pk_b])
        return _override(row)

    async def remove_override(self, override_id: int) -> None:
        """Forget a curator's decision; the records it named are clustered by their keys again."""
        async with self.engine.begin() as conn:
            await reserve(conn, "records_seq", 0)
            row = (
                await conn.execute(select(work_overrides).where(work_overrides.c.id == override_id))
            ).first()
            if row is None:
                raise NotFound(f"no work override {override_id}")
            await conn.execute(delete(work_overrides).where(work_overrides.c.id == override_id))
            named = [rid for rid in (row.record_id, row.other_record_id) if rid is not None]
            query = select(records.c.pk).where(
                one_of(conn, records.c.id, named), records.c.deleted.is_(False)
            )
            pks = list(await conn.scalars(query))
            if pks:
                await recluster_records(conn, pks)

    async def _live_pk(self, conn: AsyncConnection, record_id: str) -> int:
        row = (
            await conn.execute(select(records.c.pk, records.c.deleted).where(records.c.id == record_id))
        ).first()
        if row is None:
            raise NotFound(f"no record {record_id!r}")
        if row.deleted:
            raise InvalidInput(f"record_id: {record_id} is deleted; it belongs to no work")
        return int(row.pk)

    async def _representative(self, conn: AsyncConnection, work_id: str) -> tuple[int, str]:
        """The record of a work a curator's join names: its oldest one not split off, else its oldest."""
        query = select(records.c.pk, records.c.id).where(records.c.work_id == work_id).order_by(records.c.pk)
        members = (await conn.execute(query)).all()
        o = work_overrides.c
        split_query = select(o.record_id).where(
            o.kind == "split", one_of(conn, o.record_id, [r.id for r in members])
        )
        split = set(await conn.scalars(split_query))
        chosen = next((r for r in members if r.id not in split), members[0])
        return int(chosen.pk), str(chosen.id)

    async def _add_override(
        self, conn: AsyncConnection, kind: str, record_id: str, other: str | None
    ) -> Row[Any]:
        values = {
            "kind": kind,
            "record_id": record_id,
            "other_record_id": other,
            "created": datetime.now(UTC),
        }
        result = await conn.execute(insert(work_overrides).values(**values))
        new_id = result.inserted_primary_key[0]  # type: ignore[index]
        row = (await conn.execute(select(work_overrides).where(work_overrides.c.id == new_id))).first()
        assert row is not None
        return row

    # ----------------------------------------------------------------- batch

    async def find_works_many(
        self, kind: Literal["isbn", "issn", "doi"], values: Iterable[str]
    ) -> dict[str, list[str]]:
        """:meth:`find_works` of many values in one query: each value given (any written form) ->
        the works of the live records carrying it, oldest first ([] for one none carries)."""
        normalise = _NORMALISE.get(kind)
        if normalise is None:
            raise InvalidInput(f"kind: {kind!r} is not isbn, issn or doi")
        normal_of = {value: normalise(value) for value in values}
        wanted = {normal for normal in normal_of.values() if normal is not None}
        found: dict[str, set[str]] = {normal: set() for normal in wanted}
        if wanted:
            ri = record_identifiers.c
            async with self.engine.connect() as conn:
                query = (
                    select(ri.value, records.c.work_id)
                    .join(records, ri.record_pk == records.c.pk)
                    .where(ri.kind == kind, one_of(conn, ri.value, wanted), records.c.deleted.is_(False))
                    .distinct()
                )
                for value, work_id in await conn.execute(query):
                    if work_id is not None:
                        found[value].add(work_id)
        return {
            value: sorted(found[normal], key=work_ord) if normal is not None else []
            for value, normal in normal_of.items()
        }

"""Records, their lookup identifiers and the change feed: idempotent page commits, reads, counts.

Every page a harvester fetches is committed with :meth:`RecordTables.commit_rows` in one transaction
together with the harvest checkpoint, so a harvest killed at any point resumes from the last committed
page and the store ends exactly as after an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from types import EllipsisType
from typing import Any

from sqlalchemy import (
    BindParameter,
    Cast,
    RowMapping,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.errors import NotFound
from schemas.member import Member, RecordCounts
from schemas.record import QuarantinedItem, Record

from . import sqlite_fast
from .common import IN_CHUNK, Tables, chunks, is_postgres, one_of, utcnow
from .members import member_from_row
from .quarantine import quarantine_items, release
from .rows import RecordRow, record_row
from .runs import count_page, put_state
from .tables import counters, members, quarantine, record_identifiers, records
from .work_links import recluster_page


@dataclass
class PageCounts:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    quarantined: int = 0

    def __iadd__(self, other: PageCounts) -> PageCounts:
        self.added += other.added
        self.updated += other.updated
        self.deleted += other.deleted
        self.unchanged += other.unchanged
        self.quarantined += other.quarantined
        return self


@dataclass
class StoredRecord:
    """A record as kept in the store, with its change sequence."""

    id: str
    seq: int
    deleted: bool
    record: Record


@dataclass
class Holding:
    """A member's record of an item, for linkage lookups."""

    record: Record
    member: Member


class RecordTables(Tables):
    """The ``records`` and ``record_identifiers`` tables, and the change sequence in ``counters``."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        # On SQLite a page's record and identifier rows go to the driver directly (store.sqlite_fast);
        # the Core statements remain the path everywhere else.
        self._driver_writes = engine.dialect.name == "sqlite"

    # ------------------------------------------------------------------ writes

    async def commit_page(
        self,
        member: str,
        run_id: int | None,
        page: Sequence[Record],
        quarantined: Sequence[QuarantinedItem] = (),
        state: dict[str, Any] | EllipsisType | None = ...,
    ) -> PageCounts:
        """Upsert one page of records, quarantine the bad ones and save the checkpoint, atomically.

        Idempotent: a record whose content is unchanged is not rewritten and keeps its change sequence.
        ``state`` (when given) replaces the member's in-progress checkpoint in the same transaction.
        """
        for rec in page:
            if rec.member != member:
                raise ValueError(f"record {rec.oai_identifier!r} of {rec.member} in a page of {member}")
        return await self.commit_rows(member, run_id, [record_row(rec) for rec in page], quarantined, state)

    async def commit_rows(
        self,
        member: str,
        run_id: int | None,
        page: Sequence[RecordRow],
        quarantined: Sequence[QuarantinedItem] = (),
        state: dict[str, Any] | EllipsisType | None = ...,
    ) -> PageCounts:
        """:meth:`commit_page` for records already made into rows (:func:`~store.rows.record_row`).

        A harvest makes the rows in the worker process that parsed the page, on another core. This is
        the one transaction every page goes through: whatever must change with a page is added here.
        """
        latest: dict[str, RecordRow] = {}
        for row in page:
            # a repository may repeat an identifier within a page: the last one wins
            latest[row.oai_identifier] = row
        now = utcnow()
        async with self.engine.begin() as conn:
            # Reserve sequence numbers with a write *first*: it takes SQLite's write lock (PostgreSQL's
            # row lock) at once, so concurrent writers, in this process or another, commit one after
            # the other and the sequence follows commit order. The indexer relies on that: it reads
            # "changes after N" and must never see N+1 before N. Unused numbers leave harmless gaps.
            seq = await self._reserve_seq(conn, len(latest))
            existing = await self._existing(conn, member, list(latest))
            inserts, updates, counts = _sort_page(member, latest, existing, seq, now)
            # primary keys of the rows whose identifiers are rewritten: updated rows' come from the
            # SELECT above, inserted rows' from the insert, so the page is not looked up a second time
            pks: dict[str, int] = {r["oai_identifier"]: r["_pk"] for r in updates}
            pks.update(await self._write_rows(conn, member, inserts, updates))
            if pks:
                # only an updated row can have identifiers already: a new primary key has none (SQLite
                # may reuse the rowid of a deleted record, but the FK cascade deleted its identifiers)
                await self._write_identifiers(conn, pks, [r["_pk"] for r in updates], latest)
                await recluster_page(conn, pks, latest)
                # a record that now reads cleanly is no longer quarantined
                await release(conn, member, list(pks))
            counts.quarantined = await quarantine_items(conn, member, run_id, quarantined, now)
            if run_id is not None:
                await count_page(conn, run_id, asdict(counts))
            if state is not ...:
                await put_state(conn, member, state)
        return counts

    async def _reserve_seq(self, conn: AsyncConnection, n: int) -> int:
        """Reserve ``n`` change numbers; returns the number before the first reserved one."""
        result = await conn.execute(
            update(counters)
            .where(counters.c.name == "records_seq")
            .values(value=counters.c.value + n)
            .returning(counters.c.value)
        )
        return int(result.scalar_one()) - n

    async def _existing(
        self, conn: AsyncConnection, member: str, oai_ids: list[str]
    ) -> dict[str, tuple[int, str, bool]]:
        """The stored rows among ``oai_ids``: primary key, content hash, deleted, by OAI identifier."""
        found: dict[str, tuple[int, str, bool]] = {}
        # a page in one query on SQLite: every statement of a commit is a round trip to the driver's
        # thread, and 999 parameters is what any SQLite allows (32766 since 3.32)
        for chunk in chunks(oai_ids, IN_CHUNK if is_postgres(conn) else 998):
            result = await conn.execute(
                select(
                    records.c.oai_identifier, records.c.pk, records.c.content_hash, records.c.deleted
                ).where(records.c.member == member, one_of(conn, records.c.oai_identifier, chunk))
            )
            for oai_id, pk, digest, deleted in result:
                found[oai_id] = (pk, digest, bool(deleted))
        return found

    async def _write_rows(
        self,
        conn: AsyncConnection,
        member: str,
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
    ) -> dict[str, int]:
        """Insert and update a page's record rows; the inserted rows' primary keys by OAI identifier."""
        if self._driver_writes:
            return await sqlite_fast.write_rows(conn, inserts, updates)
        pks = await self._insert_records(conn, member, inserts) if inserts else {}
        if updates:
            stmt = (
                update(records)
                .where(records.c.pk == bindparam("_pk"))
                .values(
                    {
                        k: _data_bind(conn) if k == "data" else bindparam(k)
                        for k in updates[0]
                        if k not in {"_pk", "first_seen"}
                    }
                )
            )
            await conn.execute(stmt, updates)
        return pks

    async def _insert_records(
        self, conn: AsyncConnection, member: str, rows: list[dict[str, Any]]
    ) -> dict[str, int]:
        """Insert new record rows; returns their primary keys by OAI identifier.

        ``INSERT ... RETURNING`` (batched by SQLAlchemy's "insertmanyvalues") hands the keys back with
        the insert itself. A SQLite older than 3.35 has no RETURNING: the rows are then looked up.
        """
        stmt = insert(records).values(data=_data_bind(conn))
        if not conn.dialect.insert_executemany_returning:
            await conn.execute(stmt, rows)
            found = await self._existing(conn, member, [r["oai_identifier"] for r in rows])
            return {oai_id: pk for oai_id, (pk, _digest, _deleted) in found.items()}
        result = await conn.execute(stmt.returning(records.c.oai_identifier, records.c.pk), rows)
        return {oai_id: pk for oai_id, pk in result}

    async def _write_identifiers(
        self,
        conn: AsyncConnection,
        pks: dict[str, int],
        stale_pks: list[int],
        latest: dict[str, RecordRow],
    ) -> None:
        """Replace the identifiers of the written records ``pks`` (primary key by OAI identifier).

        ``stale_pks`` are the rows that may hold identifiers from before (updated, not inserted).
        """
        for chunk in chunks(stale_pks):
            await conn.execute(
                delete(record_identifiers).where(one_of(conn, record_identifiers.c.record_pk, chunk))
            )
        rows = [(pk, kind, value) for oai_id, pk in pks.items() for kind, value in latest[oai_id].identifiers]
        if rows and self._driver_writes:
            await sqlite_fast.insert_identifiers(conn, rows)
        elif rows:
            await conn.execute(
                insert(record_identifiers), [{"record_pk": p, "kind": k, "value": v} for p, k, v in rows]
            )

    # ------------------------------------------------------------------- reads

    async def get_record(self, record_id: str) -> StoredRecord:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(records).where(records.c.id == record_id))).first()
        if row is None:
            raise NotFound(f"no record {record_id!r}")
        return _stored(row._mapping)

    async def get_records(self, ids: Iterable[str]) -> list[StoredRecord]:
        wanted = list(ids)
        found: dict[str, StoredRecord] = {}
        async with self.engine.connect() as conn:
            for chunk in chunks(wanted):
                for row in await conn.execute(select(records).where(one_of(conn, records.c.id, chunk))):
                    found[row.id] = _stored(row._mapping)
        return [found[i] for i in wanted if i in found]

    async def find_by_identifier(self, kind: str, value: str) -> list[Holding]:
        """Live records holding a normalised identifier (isbn, issn, doi, handle), with their member."""
        query = (
            select(records, members)
            .join(record_identifiers, record_identifiers.c.record_pk == records.c.pk)
            .join(members, members.c.code == records.c.member)
            .where(
                and_(
                    record_identifiers.c.kind == kind,
                    record_identifiers.c.value == value,
                    records.c.deleted.is_(False),
                )
            )
            .order_by(records.c.member, records.c.pk)
        )
        async with self.engine.connect() as conn:
            rows = list(await conn.execute(query))
        return [Holding(record=_stored(r._mapping).record, member=member_from_row(r._mapping)) for r in rows]

    async def max_seq(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.coalesce(func.max(records.c.seq), 0))) or 0)

    async def changes_since(self, seq: int, limit: int = 1000) -> list[StoredRecord]:
        """Records changed after ``seq`` (tombstones included), in sequence order."""
        query = select(records).where(records.c.seq > seq).order_by(records.c.seq).limit(limit)
        async with self.engine.connect() as conn:
            return [_stored(r._mapping) for r in await conn.execute(query)]

    async def iter_live(
        self, batch: int = 2000, member: str | None = None
    ) -> AsyncIterator[list[StoredRecord]]:
        """Every live (not deleted) record in batches, for a full reindex."""
        last = 0
        while True:
            query = (
                select(records)
                .where(records.c.pk > last, records.c.deleted.is_(False))
                .order_by(records.c.pk)
                .limit(batch)
            )
            if member:
                query = query.where(records.c.member == member)
            async with self.engine.connect() as conn:
                rows = list(await conn.execute(query))
            if not rows:
                return
            last = rows[-1].pk
            yield [_stored(r._mapping) for r in rows]

    async def harvested_identifiers(self, member: str) -> set[str]:
        """The OAI identifiers of a member's live harvested records (imported ``marc:`` ones left out).

        Deletion reconciliation compares them with what the repository still lists; records that came
        from a file import were never in the repository, so they are not the repository's to delete.
        """
        query = select(records.c.oai_identifier).where(
            records.c.member == member,
            records.c.deleted.is_(False),
            records.c.oai_identifier.not_like("marc:%"),
        )
        async with self.engine.connect() as conn:
            return set((await conn.execute(query)).scalars())

    # ------------------------------------------------------------------ counts

    async def record_counts(self, code: str | None = None) -> dict[str, RecordCounts]:
        """Active, deleted and quarantined records per member."""
        counts: dict[str, RecordCounts] = {}
        rec_q = select(records.c.member, records.c.deleted, func.count()).group_by(
            records.c.member, records.c.deleted
        )
        q_q = select(quarantine.c.member, func.count()).group_by(quarantine.c.member)
        if code:
            rec_q = rec_q.where(records.c.member == code)
            q_q = q_q.where(quarantine.c.member == code)
        async with self.engine.connect() as conn:
            for member, deleted, n in await conn.execute(rec_q):
                c = counts.setdefault(member, RecordCounts())
                if deleted:
                    c.deleted = n
                else:
                    c.active = n
            for member, n in await conn.execute(q_q):
                counts.setdefault(member, RecordCounts()).quarantined = n
        return counts

    async def count_live(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).where(records.c.deleted.is_(False))) or 0)


def _sort_page(
    member: str,
    latest: dict[str, RecordRow],
    existing: dict[str, tuple[int, str, bool]],
    seq: int,
    now: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], PageCounts]:
    """The rows of a page to insert and to update (these with ``_pk``), numbered from ``seq + 1``, and
    the page's counts; an unchanged record is in neither and takes no number."""
    counts = PageCounts()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for oai_id, rec in latest.items():
        old = existing.get(oai_id)
        if old is not None and _unchanged(rec, old[1]):
            counts.unchanged += 1
            continue
        seq += 1
        row = _record_row(member, rec, seq, now)
        if old is None:
            row["first_seen"] = now
            inserts.append(row)
            if rec.deleted:
                counts.deleted += 1
            else:
                counts.added += 1
        else:
            row["_pk"] = old[0]
            updates.append(row)
            if rec.deleted and not old[2]:
                counts.deleted += 1
            elif rec.deleted:
                counts.unchanged += 1
            else:
                counts.updated += 1
    return inserts, updates, counts


def _record_row(member: str, rec: RecordRow, seq: int, now: datetime) -> dict[str, Any]:
    """The ``records`` row of ``rec`` (``data`` is JSON text, see :func:`_data_bind`)."""
    return {
        "id": rec.id,
        "member": member,
        "oai_identifier": rec.oai_identifier,
        "local_id": rec.local_id,
        "datestamp": rec.datestamp,
        "deleted": rec.deleted,
        "content_hash": rec.digest,
        "seq": seq,
        "data": rec.data,
        "raw_format": rec.raw_format,
        "raw": rec.raw,
        "updated": now,
    }


def _data_bind(conn: AsyncConnection) -> BindParameter[str] | Cast[Any]:
    """The bind for ``records.data``: the JSON text pydantic wrote (:func:`~store.rows.record_row`).

    Bound as text, not through the JSON column type, which would want a dict to ``json.dumps``:
    decoding the text only to encode it again cost PostgreSQL harvests 30% of their speed. SQLite
    keeps JSON as text anyway; PostgreSQL casts the text to ``json`` itself.
    """
    text = bindparam("data", type_=Text())
    return cast(text, records.c.data.type) if is_postgres(conn) else text


def _unchanged(row: RecordRow, stored: str) -> bool:
    """Whether a row whose hash is ``stored`` holds what ``row`` says."""
    if stored == row.digest:
        return True
    # rare (a store's first harvest after the hash changed): the record is read back from its row
    if len(stored) != 32:
        return False
    return stored == _legacy_hash(Record.model_validate({**json.loads(row.data), "raw": row.raw}))


def _legacy_hash(record: Record) -> str:
    """The content hash stores written before :func:`~store.rows.content_hash` changed (32 hex digits).

    Compared only with rows that still carry one, so upgrading does not rewrite (and re-sequence,
    and re-index) every unchanged record at its next harvest.
    """
    payload = record.model_dump(mode="json", exclude={"datestamp"})
    return hashlib.blake2b(json.dumps(payload, sort_keys=True).encode(), digest_size=16).hexdigest()


def _stored(row: RowMapping) -> StoredRecord:
    record = Record.model_validate({**row["data"], "raw": row["raw"]})
    return StoredRecord(id=row["id"], seq=row["seq"], deleted=bool(row["deleted"]), record=record)

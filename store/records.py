"""The record store's operations: members, idempotent record upserts, runs, checkpoints, quarantine.

Every page a harvester fetches is committed with ``commit_page`` in one transaction together with the
harvest checkpoint, so a harvest killed at any point resumes from the last committed page and the store
ends exactly as after an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, and_, any_, bindparam, cast, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from schemas.errors import MemberExists, NotFound
from schemas.member import STORED, Member, MemberCreate, RecordCounts, RunReport
from schemas.record import QuarantinedItem, Record

from .db import make_engine, migrate
from .rows import RecordRow, record_row
from .tables import counters, harvest_state, members, quarantine, record_identifiers, records, runs
from .works import WorkStore

_IN_CHUNK = 400  # bound parameters per IN (...) query; SQLite allows 32766 but keep statements small


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything in Lienhop is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _legacy_hash(record: Record) -> str:
    """The content hash stores written before :func:`~store.rows.content_hash` changed (32 hex digits).

    Compared only with rows that still carry one, so upgrading does not rewrite (and re-sequence,
    and re-index) every unchanged record at its next harvest.
    """
    payload = record.model_dump(mode="json", exclude={"datestamp"})
    return hashlib.blake2b(json.dumps(payload, sort_keys=True).encode(), digest_size=16).hexdigest()


def _unchanged(row: RecordRow, stored: str) -> bool:
    """Whether a row whose hash is ``stored`` holds what ``row`` says."""
    if stored == row.digest:
        return True
    # rare (a store's first harvest after the hash changed): the record is read back from its row
    if len(stored) != 32:
        return False
    return stored == _legacy_hash(Record.model_validate({**json.loads(row.data), "raw": row.raw}))


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


class RecordStore(WorkStore):
    """Async access to the store. Open once per process with :meth:`open`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        # On SQLite a page's record and identifier rows go to the driver directly (see
        # ``_write_rows_sqlite``); the Core statements remain the path everywhere else.
        self._driver_writes = engine.dialect.name == "sqlite"

    @classmethod
    async def open(cls, url: str) -> RecordStore:
        """Connect and migrate the schema to the newest revision."""
        engine = make_engine(url)
        await migrate(engine)
        store = cls(engine)
        await store._cluster_if_needed()
        return store

    async def close(self) -> None:
        await self.engine.dispose()

    # ---------------------------------------------------------------- members

    async def add_member(self, new: MemberCreate) -> Member:
        """Register a member; a duplicate code raises :class:`MemberExists`."""
        taken = MemberExists(f"member {new.code} is already registered")
        try:
            async with self.engine.begin() as conn:
                if await conn.scalar(select(members.c.code).where(members.c.code == new.code)):
                    raise taken
                values = new.model_dump()
                values["created"] = utcnow()
                await conn.execute(insert(members).values(**values))
        except IntegrityError as exc:
            # another process added the same code between the check and the insert: the same answer
            raise taken from exc
        return await self.get_member(new.code)

    async def update_member(self, code: str, relist: bool = False, **changes: Any) -> Member:
        """Change some fields of a member (validated through the schema).

        ``relist`` also forgets the member's harvest position (checkpoint and high-water mark) in the
        same transaction, so that its next harvest lists the whole repository again: what a new
        OAI-PMH URL, metadata prefix or set list needs.
        """
        current = await self.get_member(code)
        merged = MemberCreate.model_validate({**current.model_dump(), **changes})
        values = merged.model_dump(exclude={"code"})
        async with self.engine.begin() as conn:
            await conn.execute(update(members).where(members.c.code == current.code).values(**values))
            if relist:
                await self._put_state(conn, current.code, None, None)
        return await self.get_member(code)

    async def set_repository_info(self, code: str, info: dict[str, Any]) -> None:
        """Keep the member's last Identify answer (granularity, earliest datestamp, deletion policy)."""
        async with self.engine.begin() as conn:
            await conn.execute(update(members).where(members.c.code == code).values(repository=info))

    async def repository_info(self, code: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            return await conn.scalar(select(members.c.repository).where(members.c.code == code))

    async def get_member(self, code: str) -> Member:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(members).where(members.c.code == code.upper()))).first()
        if row is None:
            raise NotFound(f"no member with code {code!r}")
        return _member(row._mapping)

    async def list_members(self, active_only: bool = False) -> list[Member]:
        query = select(members).order_by(members.c.code)
        if active_only:
            query = query.where(members.c.active.is_(True))
        async with self.engine.connect() as conn:
            return [_member(r._mapping) for r in await conn.execute(query)]

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

    # ------------------------------------------------------------------- runs

    async def start_run(self, member: str, kind: str, params: dict[str, str] | None = None) -> RunReport:
        started = utcnow()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(runs).values(member=member, kind=kind, started=started, params=params or {})
            )
            run_id = result.inserted_primary_key[0]
        return RunReport(id=run_id, member=member, kind=kind, started=started, params=params or {})  # type: ignore[arg-type]

    async def finish_run(self, run_id: int, ok: bool, error: str | None = None) -> RunReport:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(runs).where(runs.c.id == run_id).values(finished=utcnow(), ok=ok, error=error)
            )
        return await self.get_run(run_id)

    async def get_run(self, run_id: int) -> RunReport:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.id == run_id))).first()
        if row is None:
            raise NotFound(f"no run {run_id}")
        return _run(row._mapping)

    async def list_runs(self, member: str | None = None, limit: int = 20) -> list[RunReport]:
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if member:
            query = query.where(runs.c.member == member)
        async with self.engine.connect() as conn:
            return [_run(r._mapping) for r in await conn.execute(query)]

    async def last_run(self, member: str, kind: str | None = None) -> RunReport | None:
        query = select(runs).where(runs.c.member == member).order_by(runs.c.id.desc()).limit(1)
        if kind:
            query = query.where(runs.c.kind == kind)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _run(row._mapping) if row else None

    async def count_run_pages(self, run_id: int, pages: int = 1) -> None:
        """Count a page that committed no records (e.g. an empty page or ``noRecordsMatch``)."""
        async with self.engine.begin() as conn:
            await conn.execute(update(runs).where(runs.c.id == run_id).values(pages=runs.c.pages + pages))

    # ---------------------------------------------------------- harvest state

    async def get_harvest_state(self, member: str) -> tuple[dict[str, Any] | None, datetime | None]:
        """The checkpoint of an unfinished harvest, and the high-water datestamp of the last complete one."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(harvest_state).where(harvest_state.c.member == member))).first()
        if row is None:
            return None, None
        return row.in_progress, _aware(row.last_high_water)

    async def set_harvest_state(
        self,
        member: str,
        in_progress: dict[str, Any] | None,
        last_high_water: datetime | object | None = ...,
    ) -> None:
        """Save or clear the checkpoint; pass ``last_high_water`` when a harvest completes."""
        async with self.engine.begin() as conn:
            await self._put_state(conn, member, in_progress, last_high_water)

    async def last_reconciled(self, member: str) -> datetime | None:
        """When ``member``'s records were last reconciled with the repository's listing (or first
        harvested completely, which is as good); ``None`` before that."""
        async with self.engine.connect() as conn:
            query = select(harvest_state.c.last_reconciled).where(harvest_state.c.member == member)
            return _aware(await conn.scalar(query))

    async def set_last_reconciled(self, member: str, when: datetime) -> None:
        """Record a reconciliation (called after a harvest completes, so the state row exists)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(harvest_state).where(harvest_state.c.member == member).values(last_reconciled=when)
            )

    async def _put_state(
        self, conn: AsyncConnection, member: str, in_progress: dict[str, Any] | None, high_water: object = ...
    ) -> None:
        values: dict[str, Any] = {"in_progress": in_progress, "updated": utcnow()}
        if high_water is not ...:
            values["last_high_water"] = high_water
        changed = await conn.execute(
            update(harvest_state).where(harvest_state.c.member == member).values(**values)
        )
        if changed.rowcount == 0:
            await conn.execute(insert(harvest_state).values(member=member, **values))

    # ---------------------------------------------------------------- records

    async def commit_page(
        self,
        member: str,
        run_id: int | None,
        page: Sequence[Record],
        quarantined: Sequence[QuarantinedItem] = (),
        state: dict[str, Any] | object | None = ...,
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
        state: dict[str, Any] | object | None = ...,
    ) -> PageCounts:
        """:meth:`commit_page` for records already made into rows (:func:`~store.rows.record_row`).

        A harvest makes the rows in the worker process that parsed the page, on another core.
        """
        latest: dict[str, RecordRow] = {}
        for row in page:
            # a repository may repeat an identifier within a page: the last one wins
            latest[row.oai_identifier] = row
        counts = PageCounts()
        now = utcnow()
        async with self.engine.begin() as conn:
            # Reserve sequence numbers with a write *first*: it takes SQLite's write lock (PostgreSQL's
            # row lock) at once, so concurrent writers, in this process or another, commit one after
            # the other and the sequence follows commit order. The indexer relies on that: it reads
            # "changes after N" and must never see N+1 before N. Unused numbers leave harmless gaps.
            seq = await self._reserve_seq(conn, len(latest))
            existing = await self._existing(conn, member, list(latest))
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
            # primary keys of the rows whose identifiers are rewritten: updated rows' come from the
            # SELECT above, inserted rows' from RETURNING, so the page is not looked up a second time
            pks: dict[str, int] = {r["oai_identifier"]: r["_pk"] for r in updates}
            if self._driver_writes:
                pks.update(await self._write_rows_sqlite(conn, inserts, updates))
            elif inserts:
                pks.update(await self._insert_records(conn, member, inserts))
            if updates and not self._driver_writes:
                stmt = (
                    update(records)
                    .where(records.c.pk == bindparam("_pk"))
                    .values(
                        {
                            k: self._databindparam() if k == "data" else bindparam(k)
                            for k in updates[0]
                            if k not in {"_pk", "first_seen"}
                        }
                    )
                )
                await conn.execute(stmt, updates)
            if pks:
                # only an updated row can have identifiers already: a new primary key has none (SQLite
                # may reuse the rowid of a deleted record, but the FK cascade deleted its identifiers)
                await self._write_identifiers(conn, pks, [r["_pk"] for r in updates], latest)
                await self._works_after_page(conn, pks, [r["_pk"] for r in updates], latest)
                # a record that now parses cleanly is no longer quarantined; most members have nothing
                # quarantined, and one indexed EXISTS is cheaper than a DELETE per chunk of the page
                if await self._has_quarantine(conn, member):
                    for chunk in _chunks(list(pks)):
                        await conn.execute(
                            delete(quarantine).where(
                                quarantine.c.member == member,
                                self._one_of(quarantine.c.oai_identifier, chunk),
                            )
                        )
            counts.quarantined = await self._quarantine(conn, member, run_id, quarantined, now)
            if run_id is not None:
                await conn.execute(
                    update(runs)
                    .where(runs.c.id == run_id)
                    .values(
                        pages=runs.c.pages + 1,
                        added=runs.c.added + counts.added,
                        updated=runs.c.updated + counts.updated,
                        deleted=runs.c.deleted + counts.deleted,
                        unchanged=runs.c.unchanged + counts.unchanged,
                        quarantined=runs.c.quarantined + counts.quarantined,
                    )
                )
            if state is not ...:
                await self._put_state(conn, member, state)  # type: ignore[arg-type]
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
        found: dict[str, tuple[int, str, bool]] = {}
        # a page in one query on SQLite: every statement of a commit is a round trip to the driver's
        # thread, and 999 parameters is what any SQLite allows (32766 since 3.32)
        for chunk in _chunks(oai_ids, _IN_CHUNK if self._postgres else 998):
            result = await conn.execute(
                select(
                    records.c.oai_identifier, records.c.pk, records.c.content_hash, records.c.deleted
                ).where(records.c.member == member, self._one_of(records.c.oai_identifier, chunk))
            )
            for oai_id, pk, digest, deleted in result:
                found[oai_id] = (pk, digest, bool(deleted))
        return found

    async def _insert_records(
        self, conn: AsyncConnection, member: str, rows: list[dict[str, Any]]
    ) -> dict[str, int]:
        """Insert new record rows; returns their primary keys by OAI identifier.

        ``INSERT ... RETURNING`` (batched by SQLAlchemy's "insertmanyvalues") hands the keys back with
        the insert itself. A SQLite older than 3.35 has no RETURNING: the rows are then looked up.
        """
        stmt = insert(records).values(data=self._databindparam())
        if not conn.dialect.insert_executemany_returning:
            await conn.execute(stmt, rows)
            found = await self._existing(conn, member, [r["oai_identifier"] for r in rows])
            return {oai_id: pk for oai_id, (pk, _digest, _deleted) in found.items()}
        result = await conn.execute(stmt.returning(records.c.oai_identifier, records.c.pk), rows)
        return {oai_id: pk for oai_id, pk in result}

    async def _write_rows_sqlite(
        self, conn: AsyncConnection, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
    ) -> dict[str, int]:
        """SQLite: insert and update a page's record rows through the driver; the new rows' primary keys.

        The rows :meth:`_insert_records` and the Core UPDATE would write, each value put through its
        column type's bind processor as SQLAlchemy does, but one ``executemany`` per statement without
        SQLAlchemy's per-row parameter handling, which cost the harvest more than SQLite's own work.
        New rows are numbered after the highest primary key, as SQLite numbers them itself: the
        transaction holds the write lock since ``commit_page`` reserved its sequence numbers, so no
        other writer can take those numbers meanwhile.
        """
        dialect = conn.dialect
        pks: dict[str, int] = {}
        if inserts:
            last = int(await conn.scalar(select(func.coalesce(func.max(records.c.pk), 0))) or 0)
            for pk, row in enumerate(inserts, start=last + 1):
                row["pk"] = pk
                pks[row["oai_identifier"]] = pk
            names = list(inserts[0])
            sql = f"INSERT INTO records ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
            await _executemany(conn, sql, _bound_rows(dialect, names, inserts))
        if updates:
            names = [k for k in updates[0] if k not in {"_pk", "first_seen"}]
            assignments = ", ".join(f"{k} = ?" for k in names)
            sql = f"UPDATE records SET {assignments} WHERE pk = ?"
            await _executemany(conn, sql, _bound_rows(dialect, [*names, "_pk"], updates))
        return pks

    def _one_of(self, column: Any, values: list[Any]) -> Any:
        """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one bound array instead.

        PostgreSQL soon caches a generic plan for a prepared statement; for ``IN ($2, ..., $401)`` on a
        table without statistics yet (a first harvest) that plan checks every row of the member against
        400 parameters: 47 ms per chunk of a page, against 1 ms with one array parameter.
        """
        if self._postgres:
            return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
        return column.in_(values)

    def _databindparam(self) -> Any:
        """The bind for ``records.data``: the JSON text pydantic wrote (:func:`~store.rows.record_row`).

        Bound as text, not through the JSON column type, which would want a dict to ``json.dumps``:
        decoding the text only to encode it again cost PostgreSQL harvests 30% of their speed. SQLite
        keeps JSON as text anyway; PostgreSQL casts the text to ``json`` itself.
        """
        text = bindparam("data", type_=Text())
        return cast(text, records.c.data.type) if self._postgres else text

    async def _has_quarantine(self, conn: AsyncConnection, member: str) -> bool:
        """Whether the member has any quarantined item (answered from ``ix_quarantine_member``)."""
        found = await conn.scalar(select(quarantine.c.id).where(quarantine.c.member == member).limit(1))
        return found is not None

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
        for chunk in _chunks(stale_pks):
            await conn.execute(
                delete(record_identifiers).where(self._one_of(record_identifiers.c.record_pk, chunk))
            )
        rows = [(pk, kind, value) for oai_id, pk in pks.items() for kind, value in latest[oai_id].identifiers]
        if rows and self._driver_writes:
            sql = "INSERT INTO record_identifiers (record_pk, kind, value) VALUES (?, ?, ?)"
            await _executemany(conn, sql, rows)
        elif rows:
            await conn.execute(
                insert(record_identifiers), [{"record_pk": p, "kind": k, "value": v} for p, k, v in rows]
            )

    async def _quarantine(
        self,
        conn: AsyncConnection,
        member: str,
        run_id: int | None,
        items: Sequence[QuarantinedItem],
        now: datetime,
    ) -> int:
        if not items:
            return 0
        rows: dict[str, dict[str, Any]] = {}
        for item in items:
            key = item.oai_identifier or f"@{item.offset}:{hashlib.sha1(item.raw.encode()).hexdigest()}"
            fingerprint = hashlib.sha1(f"{member}\x1f{key}".encode()).hexdigest()
            rows[fingerprint] = {
                "member": member,
                "fingerprint": fingerprint,
                "run_id": run_id,
                "oai_identifier": _no_nul(item.oai_identifier),
                "offset": item.offset,
                "reason": _no_nul(item.reason),
                "raw": _no_nul(item.raw),
                "created": now,
            }
        for chunk in _chunks(list(rows)):
            await conn.execute(delete(quarantine).where(self._one_of(quarantine.c.fingerprint, chunk)))
        await conn.execute(insert(quarantine), list(rows.values()))
        return len(rows)

    async def list_quarantine(self, member: str, limit: int = 100) -> list[QuarantinedItem]:
        query = select(quarantine).where(quarantine.c.member == member).order_by(quarantine.c.id).limit(limit)
        async with self.engine.connect() as conn:
            return [
                QuarantinedItem(
                    member=r.member,
                    reason=r.reason,
                    oai_identifier=r.oai_identifier,
                    offset=r.offset,
                    raw=r.raw,
                )
                for r in await conn.execute(query)
            ]

    async def get_record(self, record_id: str) -> StoredRecord:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(records).where(records.c.id == record_id))).first()
        if row is None:
            raise NotFound(f"no record {record_id!r}")
        return _stored(row._mapping)

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
        return [Holding(record=_stored(r._mapping).record, member=_member(r._mapping)) for r in rows]

    async def get_records(self, ids: Iterable[str]) -> list[StoredRecord]:
        wanted = list(ids)
        found: dict[str, StoredRecord] = {}
        async with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                for row in await conn.execute(select(records).where(self._one_of(records.c.id, chunk))):
                    found[row.id] = _stored(row._mapping)
        return [found[i] for i in wanted if i in found]

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

    async def count_live(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).where(records.c.deleted.is_(False))) or 0)


async def _executemany(conn: AsyncConnection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run a driver-level ``executemany`` (SQLite's ``?`` parameters) in the connection's transaction."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    cursor = await driver.executemany(sql, rows)
    await cursor.close()


# bind processors of the ``records`` columns by dialect name (``data`` is bound as encoded text)
_BINDERS: dict[str, dict[str, Any]] = {}


def _bound_rows(dialect: Any, names: list[str], rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """``rows`` as tuples of ``names``' values, each through its ``records`` column's bind processor.

    A page's rows share one ``first_seen``/``updated`` object: it is processed once (by identity, not
    equality: equal times in different zones need not be bound alike).
    """
    binders = _BINDERS.get(dialect.name)
    if binders is None:
        binders = _BINDERS[dialect.name] = {
            column.name: (Text() if column.name == "data" else column.type)
            .dialect_impl(dialect)
            .bind_processor(dialect)
            for column in records.columns
        }
    processors: list[tuple[int, Any, dict[int, Any]]] = [
        (i, binders[name], {}) for i, name in enumerate(names) if binders.get(name) is not None
    ]
    out = []
    for row in rows:
        values = [row[name] for name in names]
        for i, process, seen in processors:
            value = values[i]
            if value is not None:
                done = seen.get(id(value))
                if done is None:
                    done = seen[id(value)] = process(value)
                values[i] = done
        out.append(tuple(values))
    return out


def _no_nul(text: str | None) -> str | None:
    """``text`` with U+0000 shown as U+FFFD: PostgreSQL text cannot hold it, and an unreadable page that
    contains it must still be quarantined. Done on SQLite too, so both keep the same thing."""
    if text is None or "\x00" not in text:
        return text
    return text.replace("\x00", "\ufffd")


def _chunks(items: list[Any], size: int = _IN_CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _record_row(member: str, rec: RecordRow, seq: int, now: datetime) -> dict[str, Any]:
    """The ``records`` row of ``rec`` (``data`` is JSON text, see ``RecordStore._databindparam``)."""
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


def _stored(row: Any) -> StoredRecord:
    record = Record.model_validate({**row["data"], "raw": row["raw"]})
    return StoredRecord(id=row["id"], seq=row["seq"], deleted=bool(row["deleted"]), record=record)


def _member(row: Any) -> Member:
    member = Member.model_validate(
        {
            c: row[c]
            for c in (
                "code",
                "name_vi",
                "name_en",
                "status",
                "observer_since",
                "joined",
                "oai_url",
                "metadata_prefix",
                "sets",
                "opac_url_template",
                "contact",
                "active",
                "harvest_schedule",
                "created",
            )
        },
        context=STORED,
    )
    member.created = _aware(member.created)
    return member


def _run(row: Any) -> RunReport:
    values = dict(row)
    values["started"] = _aware(values["started"])
    values["finished"] = _aware(values["finished"])
    values["params"] = values.get("params") or {}
    return RunReport.model_validate(values)

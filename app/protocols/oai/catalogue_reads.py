"""The queries behind the union catalogue's OAI-PMH feed, read from the record store's tables.

An item's datestamp is the store's change time of the record (``records.updated``), and lists run in
change-sequence order (``records.seq``, indexed): a record changed while a harvest pages through a
list takes a new, higher number, so it is listed again further on instead of being skipped.
Tombstones are rows like any other, so deletions are persistent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from schemas.record import RECORD_TYPES, Record
from store.tables import records

from .arguments import ListQuery
from .errors import NoRecordsMatch

_TYPE = records.c.data["type"].as_string()
_HEADER_COLUMNS = (
    records.c.id,
    records.c.member,
    records.c.seq,
    records.c.updated,
    records.c.deleted,
    _TYPE.label("type"),
)


@dataclass(frozen=True)
class ItemRow:
    """What a header needs of a record, and the record itself when metadata is wanted."""

    id: str
    member: str
    seq: int
    updated: datetime
    deleted: bool
    type: str | None
    record: Record | None


def _item(row: Any, with_record: bool) -> ItemRow:
    record = Record.model_validate({**row.data, "raw": row.raw}) if with_record else None
    return ItemRow(row.id, row.member, row.seq, row.updated, bool(row.deleted), row.type, record)


def set_condition(set_spec: str | None) -> ColumnElement[bool] | None:
    """The condition of a set (``member:CODE``, ``type:TYPE`` or their parents ``member``, ``type``).

    A tombstone has lost its type (the member's deleted header says nothing of it), so it belongs to
    every type set: a selective harvester must still learn of the deletion; one that never held the
    record ignores it.
    """
    if set_spec is None or set_spec in ("member", "type"):
        return None
    kind, _, value = set_spec.partition(":")
    if kind == "member" and value:
        return records.c.member == value
    if kind == "type" and value in RECORD_TYPES:
        return or_(records.c.deleted.is_(True), value == _TYPE)
    raise NoRecordsMatch(f"no set {set_spec!r}")


def _conditions(query: ListQuery, after_seq: int) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [records.c.seq > after_seq]
    if query.start is not None:
        conditions.append(records.c.updated >= query.start)
    if query.end is not None:
        conditions.append(records.c.updated <= query.end)
    in_set = set_condition(query.set_spec)
    if in_set is not None:
        conditions.append(in_set)
    return conditions


async def list_items(
    engine: AsyncEngine, query: ListQuery, after_seq: int, limit: int, with_record: bool
) -> list[ItemRow]:
    """Up to ``limit`` items of ``query`` changed after ``after_seq``, in change order."""
    columns: Sequence[Any] = (
        (*_HEADER_COLUMNS, records.c.data, records.c.raw) if with_record else _HEADER_COLUMNS
    )
    statement = select(*columns).where(*_conditions(query, after_seq)).order_by(records.c.seq).limit(limit)
    async with engine.connect() as conn:
        return [_item(row, with_record) for row in await conn.execute(statement)]


async def count_items(engine: AsyncEngine, query: ListQuery) -> int:
    statement = select(func.count()).select_from(records).where(*_conditions(query, 0))
    async with engine.connect() as conn:
        return int(await conn.scalar(statement) or 0)


async def get_item(engine: AsyncEngine, record_id: str) -> ItemRow | None:
    statement = select(*_HEADER_COLUMNS, records.c.data, records.c.raw).where(records.c.id == record_id)
    async with engine.connect() as conn:
        row = (await conn.execute(statement)).first()
    return None if row is None else _item(row, with_record=True)


async def earliest_change(engine: AsyncEngine) -> datetime | None:
    async with engine.connect() as conn:
        earliest: datetime | None = await conn.scalar(select(func.min(records.c.updated)))
    return earliest

"""What every table family of the store shares: the engine they hold, UTC times and chunked ``IN`` lists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

IN_CHUNK = 400  # bound parameters per IN (...) query; SQLite allows 32766 but keep statements small


class Tables:
    """Base of the table-family classes (:mod:`store.members`, :mod:`store.runs`, ...): one engine.

    :class:`store.front.RecordStore` inherits every family, so they all share the one engine it opens.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything in Lienhop is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def chunks(items: list[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def one_of(conn: AsyncConnection, column: ColumnElement[Any], values: list[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one bound array instead.

    PostgreSQL soon caches a generic plan for a prepared statement; for ``IN ($2, ..., $401)`` on a
    table without statistics yet (a first harvest) that plan checks every row of the member against
    400 parameters: 47 ms per chunk of a page, against 1 ms with one array parameter.
    """
    if is_postgres(conn):
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)

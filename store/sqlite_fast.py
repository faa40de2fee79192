"""SQLite's fast path for a page's rows: ``executemany`` on the driver, values bound as SQLAlchemy would.

The rows the Core statements in :mod:`store.records` would write, each value put through its column
type's bind processor as SQLAlchemy does, but one ``executemany`` per statement without SQLAlchemy's
per-row parameter handling, which cost the harvest more than SQLite's own work. PostgreSQL keeps the
Core statements.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Dialect, Text, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import records

_Processor = Callable[[Any], Any]

# bind processors of the ``records`` columns by dialect name (``data`` is bound as encoded text)
_BINDERS: dict[str, dict[str, _Processor | None]] = {}


async def write_rows(
    conn: AsyncConnection, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]
) -> dict[str, int]:
    """Insert and update a page's record rows; the new rows' primary keys by OAI identifier.

    ``updates`` carry their row's primary key as ``_pk``. New rows are numbered after the highest
    primary key, as SQLite numbers them itself: the transaction holds the write lock since
    ``commit_rows`` reserved its sequence numbers, so no other writer can take those numbers meanwhile.
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
        await executemany(conn, sql, bound_rows(dialect, names, inserts))
    if updates:
        names = [k for k in updates[0] if k not in {"_pk", "first_seen"}]
        assignments = ", ".join(f"{k} = ?" for k in names)
        sql = f"UPDATE records SET {assignments} WHERE pk = ?"
        await executemany(conn, sql, bound_rows(dialect, [*names, "_pk"], updates))
    return pks


async def insert_identifiers(conn: AsyncConnection, rows: list[tuple[int, str, str]]) -> None:
    """Insert ``(record_pk, kind, value)`` rows into ``record_identifiers`` (no bind processing needed)."""
    sql = "INSERT INTO record_identifiers (record_pk, kind, value) VALUES (?, ?, ?)"
    await executemany(conn, sql, rows)


async def executemany(conn: AsyncConnection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run a driver-level ``executemany`` (SQLite's ``?`` parameters) in the connection's transaction."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    cursor = await driver.executemany(sql, rows)
    await cursor.close()


def bound_rows(dialect: Dialect, names: list[str], rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
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
    processors: list[tuple[int, _Processor, dict[int, Any]]] = []
    for i, name in enumerate(names):
        process = binders.get(name)
        if process is not None:
            processors.append((i, process, {}))
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

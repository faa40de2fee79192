"""The async engine for the record store: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

MIGRATIONS = Path(__file__).parent / "migrations"

# Alembic's ``context`` and ``op`` are module-level proxies: two upgrades running at once in one process
# (two stores opened together, even on different databases) would use each other's connection.
_UPGRADING = threading.Lock()
# Key of the PostgreSQL advisory lock that lets one process at a time upgrade the schema
# (the ASCII bytes of "lienhop"; any bigint no other application on the server uses would do).
_PG_MIGRATE_LOCK = 0x6C69656E686F70


# URL schemes without a driver, as a DBA or a hosting service writes them, and the async driver to use
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_url(url: str) -> str:
    """``url`` with the async driver Lienhop uses when it names none (``postgresql://`` -> asyncpg)."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in _ASYNC_DRIVERS:
        return f"{_ASYNC_DRIVERS[scheme]}://{rest}"
    return url


def make_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and foreign keys."""
    url = async_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=60000")
            _use_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _use_wal(cursor: Any, patience: float = 60.0) -> None:
    """Put the database in WAL mode, waiting out other processes doing the same.

    WAL is a property of the file, so only the first connection to a new database changes it. That
    change needs an exclusive lock and SQLite may refuse it at once ("database is locked") without
    calling the busy handler, when two processes open a new store at the same moment: so retry.
    """
    deadline = time.monotonic() + patience
    delay = 0.005
    while True:
        try:
            # a DB-API cursor: sqlite3's own or the async driver's synchronous adapter
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the adapter raises its driver's OperationalError, not sqlite3's
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _upgrade(connection: Connection) -> None:
    """Upgrade to head unless already there, holding the database's lock while it runs.

    Processes started together on a new database (the API, a scheduler, a CLI command) must not all
    create the tables: the first takes the lock and upgrades, the others wait, then find the schema at
    head. A store already at head (every start but the first) takes no lock, so opening it does not wait
    for a harvest that is writing.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    if set(MigrationContext.configure(connection).get_current_heads()) == heads:
        return
    if connection.dialect.name == "postgresql":
        # released by the commit that ends the upgrade's transaction
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATE_LOCK})")
    elif connection.dialect.name == "sqlite":
        # pysqlite runs DDL outside any transaction unless told otherwise; IMMEDIATE takes the write
        # lock now (waiting up to busy_timeout), so the version check below and the DDL are one unit
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    command.upgrade(cfg, "head")  # reads the version again, under the lock


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest Alembic revision (safe with other processes doing the same)."""
    while not _UPGRADING.acquire(blocking=False):  # polled: cancelling the wait leaves nothing held
        await asyncio.sleep(0.01)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)
    finally:
        _UPGRADING.release()

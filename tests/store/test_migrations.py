"""Migrations run when a store opens: on a new database, on an existing one, and by processes at once.

Each test runs on SQLite and on PostgreSQL (``database_url`` in ``tests/pg/fixtures.py``).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from schemas.member import MemberCreate
from schemas.record import Record
from store.front import RecordStore
from store.tables import metadata

pytestmark = pytest.mark.asyncio

# Columns 0003 makes TEXT on PostgreSQL only: SQLite ignores VARCHAR lengths, and rebuilding its tables
# for nothing would copy the whole store.
_SQLITE_KEEPS_VARCHAR = {
    ("members", "name_vi"),
    ("members", "name_en"),
    ("members", "oai_url"),
    ("members", "opac_url_template"),
    ("members", "contact"),
    ("records", "oai_identifier"),
    ("records", "local_id"),
    ("quarantine", "oai_identifier"),
}


async def _member(store: RecordStore) -> None:
    await store.add_member(MemberCreate(code="VAST", name_vi="Viện Hàn lâm KH&CN Việt Nam"))


def _drift(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, metadata)


async def test_migrations_build_the_schema_the_code_uses(database_url: str) -> None:
    """Tables, columns, types, indexes and constraints after every migration match ``store/tables.py``."""
    store = await RecordStore.open(database_url)
    try:
        async with store.engine.connect() as conn:
            drift = await conn.run_sync(_drift)
    finally:
        await store.close()
    if database_url.startswith("sqlite"):
        drift = [
            d
            for d in drift
            if not (
                isinstance(d, list) and d[0][0] == "modify_type" and tuple(d[0][2:4]) in _SQLITE_KEEPS_VARCHAR
            )
        ]
    assert drift == []


async def test_processes_starting_at_once_both_migrate(database_url: str) -> None:
    """The API server and a CLI command started together on a new database both come up."""
    first, second = await asyncio.gather(RecordStore.open(database_url), RecordStore.open(database_url))
    try:
        await _member(first)
        assert [m.code for m in await second.list_members()] == ["VAST"]
    finally:
        await first.close()
        await second.close()


async def test_reopening_a_migrated_store_keeps_its_records(database_url: str) -> None:
    opened = await RecordStore.open(database_url)
    try:
        await _member(opened)
        await opened.commit_page(
            "VAST", None, [Record(member="VAST", oai_identifier="oai:vast:1", title="Một")]
        )
        seq = await opened.max_seq()
    finally:
        await opened.close()
    again = await RecordStore.open(database_url)
    try:
        assert await again.max_seq() == seq
        counts = await again.commit_page(
            "VAST", None, [Record(member="VAST", oai_identifier="oai:vast:2", title="Hai")]
        )
        assert counts.added == 1 and await again.max_seq() > seq, "the change counter carried on"
    finally:
        await again.close()


_OPEN_IN_CHILD = """
import asyncio, sys
from store.front import RecordStore

async def main() -> None:
    print("ready", flush=True)
    # each line names a database: all children read it at the same moment, not as their imports finish
    for line in sys.stdin:
        store = await RecordStore.open(line.strip())
        await store.close()
        print("opened", flush=True)

asyncio.run(main())
"""

_ROUNDS = 8


async def test_processes_starting_together_on_a_new_database_all_come_up(database_url: str) -> None:
    """Four processes (the API, the scheduler, CLI commands) start at the same moment on an empty store.

    The first connection to a new SQLite file switches it to WAL, and SQLite may refuse that switch at
    once, without waiting, to a process racing another: each must wait its turn rather than fail. The
    race is narrow, so the processes open several new databases together (on PostgreSQL, the first
    round creates the schema and the others find it at head).
    """
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENHOP_")}
    pipe = asyncio.subprocess.PIPE
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _OPEN_IN_CHILD, cwd=root, env=env, stdin=pipe, stdout=pipe, stderr=pipe
        )
        for _ in range(4)
    ]
    for child in children:
        assert await asyncio.wait_for(child.stdout.readline(), 60) == b"ready\n"  # type: ignore[union-attr]
    sqlite = database_url.startswith("sqlite")
    for round_ in range(_ROUNDS):
        url = f"{database_url}.{round_}" if sqlite else database_url
        for child in children:
            child.stdin.write(f"{url}\n".encode())  # type: ignore[union-attr]
        replies = await asyncio.wait_for(
            asyncio.gather(*(child.stdout.readline() for child in children)),  # type: ignore[union-attr]
            120,
        )
        if replies != [b"opened\n"] * 4:
            for child in children:
                child.kill()
            errors = [(await child.communicate())[1] for child in children]
            pytest.fail(f"round {round_}: " + b"\n".join(errors).decode())
    outputs = await asyncio.wait_for(asyncio.gather(*(child.communicate(b"") for child in children)), 60)
    assert [child.returncode for child in children] == [0] * 4, b"\n".join(err for _, err in outputs).decode()

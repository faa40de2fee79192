"""The record store as the rest of Lienhop sees it: one object over every table family, one engine.

Each family is its own module (members, runs and harvest state, records and the change feed,
quarantine); :class:`RecordStore` only opens the engine and migrates the schema.
"""

from __future__ import annotations

from .db import make_engine, migrate
from .members import MemberTables
from .quarantine import QuarantineTables
from .records import RecordTables
from .runs import RunTables
from .works import WorkStore


class RecordStore(MemberTables, RunTables, RecordTables, QuarantineTables, WorkStore):
    """Async access to the store. Open once per process with :meth:`open`."""

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

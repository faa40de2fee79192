"""Helpers shared by the harvest tests: registering members and reading back what the store holds."""

from __future__ import annotations

from typing import Any

from schemas.member import MemberCreate
from schemas.record import Record
from store.front import RecordStore


async def add_member(store: RecordStore, code: str, url: str, **fields: Any) -> None:
    """Register an active member harvested from ``url``."""
    await store.add_member(MemberCreate(code=code, name_vi=f"Thư viện {code}", oai_url=url, **fields))


async def stored(store: RecordStore, member: str | None = None) -> dict[str, Record]:
    """Every record (tombstones included) by OAI identifier."""
    found: dict[str, Record] = {}
    for item in await store.changes_since(0, limit=10**7):
        if member is None or item.record.member == member:
            found[item.record.oai_identifier] = item.record
    return found


async def snapshot(store: RecordStore) -> list[tuple[str, str, bool, str]]:
    """What a user sees of the store: (id, normalised record JSON, deleted, raw) sorted, no sequences."""
    rows = []
    for item in await store.changes_since(0, limit=10**7):
        rows.append((item.id, item.record.model_dump_json(exclude={"raw"}), item.deleted, item.record.raw))
    return sorted(rows)

"""The holdings model of many works at once, from the store's works API and ``app/holdings.py``:
what the batch lookup, the OpenURL resolver and SRU answer about each work they found."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from schemas.member import Member
from schemas.work import Holdings
from store.front import RecordStore
from store.records import StoredRecord

from ..holdings import holdings


async def members_by_code(store: RecordStore) -> dict[str, Member]:
    return {m.code: m for m in await store.list_members()}


async def works_holdings(
    store: RecordStore, work_ids: Iterable[str], members: Mapping[str, Member] | None = None
) -> dict[str, Holdings]:
    """Each live work's holdings model, read in one query (a work with no live record is left out)."""
    held = await works_records(store, work_ids)
    members = members if members is not None else await members_by_code(store)
    return {wid: holdings(wid, records, members) for wid, records in held.items() if records}


async def works_records(store: RecordStore, work_ids: Iterable[str]) -> dict[str, list[StoredRecord]]:
    wanted = list(dict.fromkeys(work_ids))
    return await store.works_records(wanted) if wanted else {}

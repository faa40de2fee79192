"""Quarantine: records and pages that could not be read, kept with their reason (the ``quarantine`` table).

A bad item is keyed by a fingerprint of the member and its OAI identifier (or its byte offset and
content, for an item without one), so the same bad record seen again stays one item; a record that
later reads cleanly leaves the quarantine in the transaction that stores it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.record import QuarantinedItem

from .common import Tables, chunks, one_of
from .tables import quarantine


class QuarantineTables(Tables):
    """Reading the ``quarantine`` table (it is written with each page, see :mod:`store.records`)."""

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


async def quarantine_items(
    conn: AsyncConnection,
    member: str,
    run_id: int | None,
    items: Sequence[QuarantinedItem],
    now: datetime,
) -> int:
    """Quarantine ``items`` (replacing earlier copies of each) in ``conn``'s transaction; how many."""
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
    for chunk in chunks(list(rows)):
        await conn.execute(delete(quarantine).where(one_of(conn, quarantine.c.fingerprint, chunk)))
    await conn.execute(insert(quarantine), list(rows.values()))
    return len(rows)


async def release(conn: AsyncConnection, member: str, oai_ids: list[str]) -> None:
    """Take ``member``'s records ``oai_ids``, now stored, out of the quarantine."""
    # most members have nothing quarantined, and one indexed EXISTS is cheaper than a DELETE per chunk
    # of the page (answered from ``ix_quarantine_member``)
    found = await conn.scalar(select(quarantine.c.id).where(quarantine.c.member == member).limit(1))
    if found is None:
        return
    for chunk in chunks(oai_ids):
        await conn.execute(
            delete(quarantine).where(
                quarantine.c.member == member,
                one_of(conn, quarantine.c.oai_identifier, chunk),
            )
        )


def _no_nul(text: str | None) -> str | None:
    """``text`` with U+0000 shown as U+FFFD: PostgreSQL text cannot hold it, and an unreadable page that
    contains it must still be quarantined. Done on SQLite too, so both keep the same thing."""
    if text is None or "\x00" not in text:
        return text
    return text.replace("\x00", "\ufffd")

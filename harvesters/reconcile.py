"""Deletion reconciliation: harvested records that a repository no longer lists become tombstones.

A repository whose Identify says ``deletedRecord`` is ``no`` never reports a deletion, and one that
says ``transient`` may forget it: records withdrawn there would stay in the union catalogue for ever,
and a holdings lookup would keep sending readers to them. Like RecordManager's
``deletions=ListIdentifiers``, reconciliation lists every identifier the repository still holds (headers
only, far lighter than ListRecords) and tombstones the member's harvested records that are missing.

A broken repository can list nothing or half of what it holds, so a listing that would delete more than
``reconcile_max_fraction`` of the member's records is refused unless forced, and a listing that fails
half-way deletes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas.errors import HarvestError
from schemas.record import Record
from store.front import RecordStore

from .oai.client import OAIClient
from .records import RecordParseError, parse_header

# Policies under which a repository's own deletion reports cannot be trusted to be complete
UNREPORTED_DELETIONS = frozenset({"no", "transient"})
_PAGE = 500  # tombstones committed per transaction (the size of a harvested page)


class MassDeletion(HarvestError):
    """A reconciliation that would delete more of a member's records than the settings allow."""

    title = "Reconciliation refused"


@dataclass(frozen=True)
class Reconciliation:
    """What a reconciliation found: identifiers listed, records held before it, tombstones written."""

    listed: int
    held: int
    deleted: int

    def summary(self) -> str:
        return f"reconciled: {self.deleted} of {self.held} records no longer listed ({self.listed} listed)"


def reconciliation_due(
    requested: bool | None,
    deleted_record: str | None,
    full: bool,
    every_days: float,
    last: datetime | None,
    now: datetime,
) -> bool:
    """Whether a complete harvest ends with a reconciliation.

    ``requested`` (``True``/``False``) decides alone; unset, a repository whose Identify says it
    reports every deletion (``deleted_record``) is never reconciled, and one that does not is on a
    ``full`` harvest or when the last reconciliation is ``every_days`` old.
    """
    if requested is not None:
        return requested
    if deleted_record not in UNREPORTED_DELETIONS:
        return False
    if full:
        return True
    return every_days > 0 and last is not None and now - last >= timedelta(days=every_days)


def ghosts(held: set[str], listed: set[str]) -> list[str]:
    """The held identifiers the repository no longer lists, sorted (pure)."""
    return sorted(held - listed)


def check_share(ghost_count: int, held: int, max_fraction: float, force: bool) -> None:
    """Raise :class:`MassDeletion` when ``ghost_count`` of ``held`` is more than ``max_fraction``."""
    if force or held == 0 or ghost_count <= max_fraction * held:
        return
    raise MassDeletion(
        f"the repository no longer lists {ghost_count} of the {held} records harvested from it "
        f"(more than {max_fraction:.0%}); nothing was deleted. If they really were withdrawn, "
        "reconcile again with --force"
    )


async def listed_identifiers(client: OAIClient, prefix: str, sets: Sequence[str | None]) -> set[str]:
    """Every identifier the repository lists as present (not deleted) in ``sets``.

    A header without an identifier stops the listing: the record behind it may be one we hold, and
    deleting on an incomplete list is exactly what reconciliation must never do.
    """
    present: set[str] = set()
    for spec in sets:
        async for element in client.list_identifiers(prefix, spec):
            try:
                header = parse_header(element)
            except RecordParseError as exc:
                detail = f"ListIdentifiers gave an unreadable header ({exc}); nothing deleted"
                raise HarvestError(detail) from exc
            if not header.deleted:
                present.add(header.identifier)
    return present


async def reconcile(
    store: RecordStore,
    client: OAIClient,
    member: str,
    prefix: str,
    sets: Sequence[str | None],
    now: datetime,
    max_fraction: float,
    force: bool,
    commit: Callable[[list[Record]], Awaitable[None]],
) -> Reconciliation:
    """Tombstone ``member``'s harvested records that the repository no longer lists.

    The records held are read *before* listing, so a record harvested while the list is read (which
    the list may not show yet) is never taken for a ghost. Each page of tombstones goes to ``commit``,
    the harvest's own commit: counted in its run like a harvested deletion, and out of the index.
    """
    held = await store.harvested_identifiers(member)
    listed = await listed_identifiers(client, prefix, sets)
    missing = ghosts(held, listed)
    check_share(len(missing), len(held), max_fraction, force)
    tombstone: dict[str, Any] = {
        "member": member,
        "datestamp": now,
        "deleted": True,
        "raw_format": "marcxml" if prefix == "marcxml" else "oai_dc",
    }
    for start in range(0, len(missing), _PAGE):
        await commit([Record(oai_identifier=i, **tombstone) for i in missing[start : start + _PAGE]])
    return Reconciliation(listed=len(listed), held=len(held), deleted=len(missing))

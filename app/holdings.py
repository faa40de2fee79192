"""The holdings model built from stored records: a work and every member holding it, each with its
records and the deep links into its OPAC. One builder for ``/works/{id}``, search hits, ``/lookup``
and the widget, so they all say the same thing about who holds what.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas.member import Member
from schemas.work import HoldingRecord, Holdings, MemberHolding, WorkDetail, WorkRecord, fullest
from store.front import RecordStore
from store.records import StoredRecord
from store.works import WorkState

from .catalog import opac_link


async def members_by_code(store: RecordStore) -> dict[str, Member]:
    """Every registered member by code (a few hundred at most: read once per answer)."""
    return {member.code: member for member in await store.list_members()}


def _order(code: str, member: Member | None, first: str | None) -> tuple[int, int, str]:
    """The request's member first, then full members before observers, then by code."""
    return (
        0 if first is not None and code == first.upper() else 1,
        0 if member and member.status == "member" else 1,
        code,
    )


def holdings(
    work_id: str, held: Sequence[StoredRecord], members: Mapping[str, Member], first: str | None = None
) -> Holdings:
    """The holdings model of a work from its live records (``held``, oldest first) and the members.

    ``title`` is the fullest record's; ``first`` (the member of the request's filter or widget) is
    listed first when it holds the work. A record of a member no longer registered is left out.
    """
    live = [s for s in held if not s.deleted]
    grouped: dict[str, list[StoredRecord]] = {}
    for stored in live:
        grouped.setdefault(stored.record.member, []).append(stored)
    listing: list[MemberHolding] = []
    for code in sorted(grouped, key=lambda c: _order(c, members.get(c), first)):
        member = members.get(code)
        if member is None:
            continue
        listing.append(
            MemberHolding(
                code=member.code,
                name_vi=member.name_vi,
                name_en=member.name_en,
                status=member.status,
                records=[
                    HoldingRecord(
                        record_id=s.id,
                        oai_identifier=s.record.oai_identifier,
                        opac_url=opac_link(member, s.record),
                    )
                    for s in grouped[code]
                ],
            )
        )
    title = fullest([s.record for s in live]).title if live else None
    return Holdings(work_id=work_id, title=title, holdings_count=len(listing), holdings=listing)


def work_detail(state: WorkState, members: Mapping[str, Member], first: str | None = None) -> WorkDetail:
    """``GET /works/{id}``: the holdings model, each record with its identifiers and why it joined,
    and the curator overrides naming them."""
    summary = holdings(state.work_id, state.records, members, first)
    explained = [
        WorkRecord(
            record_id=s.id,
            member=s.record.member,
            isbn=s.record.identifiers.isbn,
            doi=s.record.identifiers.doi,
            issn=s.record.identifiers.issn,
            year=s.record.year,
            title=s.record.title,
            joined_by=state.joined_by.get(s.id),
        )
        for s in state.records
    ]
    return WorkDetail(**summary.model_dump(), records=explained, overrides=state.overrides)

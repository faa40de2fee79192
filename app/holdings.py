"""The holdings model: a work and every member holding it, each with its records and the deep links
into its OPAC. One builder for ``/works/{id}``, search hits, ``/lookup`` and the widget, so they all
say the same thing about who holds what.

Built from stored records (``/works/{id}``, ``/lookup``) or from the record refs a search document
keeps (search hits: no store read but the members').
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from schemas.member import Member
from schemas.search import IndexDocument, RecordRef
from schemas.work import HoldingRecord, Holdings, MemberHolding, WorkDetail, WorkRecord, fullest
from search.service import HoldingsBuilder
from store.front import RecordStore
from store.records import StoredRecord
from store.works import WorkState

from .opac import opac_url


async def members_by_code(store: RecordStore) -> dict[str, Member]:
    """Every registered member by code (a few hundred at most: read once per answer)."""
    return {member.code: member for member in await store.list_members()}


def _first(first: str | Iterable[str] | None) -> list[str]:
    if first is None:
        return []
    return [first.upper()] if isinstance(first, str) else [code.upper() for code in first]


def _order(code: str, member: Member | None, first: Sequence[str]) -> tuple[int, int, str]:
    """The request's member(s) first (in the order given), then full members before observers,
    then by code."""
    return (
        first.index(code) if code in first else len(first),
        0 if member and member.status == "member" else 1,
        code,
    )


def _ref(stored: StoredRecord) -> RecordRef:
    ids = stored.record.identifiers
    return RecordRef(
        record_id=stored.id,
        member=stored.record.member,
        oai_identifier=stored.record.oai_identifier,
        local_id=ids.local_id,
        isbn=ids.isbn[0] if ids.isbn else None,
    )


def member_holdings(
    refs: Iterable[RecordRef], members: Mapping[str, Member], first: str | Iterable[str] | None = None
) -> list[MemberHolding]:
    """The members holding these records, each with its records and OPAC links: the ``first``
    member(s) first, then full members before observers, then by code. A record of a member no
    longer registered is left out."""
    wanted = _first(first)
    grouped: dict[str, list[RecordRef]] = {}
    for ref in refs:
        grouped.setdefault(ref.member, []).append(ref)
    listing: list[MemberHolding] = []
    for code in sorted(grouped, key=lambda c: _order(c, members.get(c), wanted)):
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
                        record_id=ref.record_id,
                        oai_identifier=ref.oai_identifier,
                        opac_url=opac_url(member, ref.oai_identifier, ref.local_id, ref.isbn),
                    )
                    for ref in grouped[code]
                ],
            )
        )
    return listing


def holdings(
    work_id: str,
    held: Sequence[StoredRecord],
    members: Mapping[str, Member],
    first: str | Iterable[str] | None = None,
) -> Holdings:
    """The holdings model of a work from its live records (``held``, oldest first) and the members.

    ``title`` is the fullest record's (ties: the least record id, as the search document shows);
    ``first`` (the member of the request's filter or widget) is listed first when it holds the work.
    """
    live = [s for s in held if not s.deleted]
    listing = member_holdings((_ref(s) for s in live), members, first)
    by_id = sorted(live, key=lambda s: s.id)
    title = fullest([s.record for s in by_id]).title if by_id else None
    return Holdings(work_id=work_id, title=title, holdings_count=len(listing), holdings=listing)


def hit_holdings(store: RecordStore) -> HoldingsBuilder:
    """The search service's ``HoldingsBuilder``: the holdings of a result page from the record refs
    its documents keep, with one read of the members per page."""

    async def build(docs: Sequence[IndexDocument], first: Sequence[str]) -> list[list[MemberHolding]]:
        members = await members_by_code(store)
        return [member_holdings(doc.records, members, first) for doc in docs]

    return build


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

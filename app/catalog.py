"""The union catalogue's answers shared by the API, the web pages and the CLI.

Member status reports, OPAC deep links (``app.opac``), and "who holds it" lookups by identifier or by
title, answered as works in the holdings model (``app.holdings``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field
from stdnum import isbn as stdisbn
from stdnum import issn as stdissn
from stdnum.exceptions import ValidationError

from schemas.errors import InvalidInput
from schemas.member import (
    HARVEST_SOURCE_FIELDS,
    Member,
    MemberStatus,
    MemberStatusReport,
    MemberUpdate,
    RecordCounts,
    harvest_overdue,
    member_changes,
    next_harvest,
)
from schemas.record import Record
from schemas.search import SearchRequest
from schemas.text import folded_text
from schemas.work import Holdings
from store.clusters import work_ord
from store.common import utcnow
from store.front import RecordStore

from .holdings import holdings, members_by_code
from .opac import local_id, opac_link

__all__ = ["local_id", "opac_link"]  # re-exported: the pages and routes link records from here

if TYPE_CHECKING:
    from search.service import SearchService

IdentifierKind = Literal["isbn", "issn", "doi"]
_TITLE_CANDIDATES = 100  # works whose titles hold the asked words as a phrase, checked one by one
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


# ---------------------------------------------------------------------------- members


async def member_status(store: RecordStore, code: str, now: datetime | None = None) -> MemberStatusReport:
    """What ``GET /members/{code}`` and ``lienhop members show CODE --json`` print."""
    member = await store.get_member(code)
    counts = (await store.record_counts(member.code)).get(member.code, RecordCounts())
    return await _status_report(store, member, counts, now or utcnow())


async def member_statuses(store: RecordStore, now: datetime | None = None) -> list[MemberStatusReport]:
    """:func:`member_status` of every member (``GET /members``, ``members list``, ``/status``), with
    the record counts of all of them read in one query."""
    counts = await store.record_counts()
    now = now or utcnow()
    return [
        await _status_report(store, m, counts.get(m.code, RecordCounts()), now)
        for m in await store.list_members()
    ]


async def _status_report(
    store: RecordStore, member: Member, counts: RecordCounts, now: datetime
) -> MemberStatusReport:
    last = await store.last_run(member.code, kind="harvest")
    started = last.started if last else None
    return MemberStatusReport(
        code=member.code,
        member=member,
        status=member.status,
        eligible_for_membership=member.eligible_for_membership(),
        records=counts,
        last_harvest=last,
        next_harvest=next_harvest(member, started, now),
        harvest_overdue=harvest_overdue(member, started, now),
    )


async def harvest_alerts(
    store: RecordStore, members: Iterable[Member], now: datetime | None = None
) -> dict[str, list[str]]:
    """Codes of the active ``members`` whose last harvest failed, and of those whose schedule is
    overdue (what monitoring should alert on; ``GET /health`` carries it)."""
    now = now or utcnow()
    failing: list[str] = []
    overdue: list[str] = []
    for member in members:
        if not member.active:
            continue
        last = await store.last_run(member.code, kind="harvest")
        if last is not None and last.ok is False:
            failing.append(member.code)
        if harvest_overdue(member, last.started if last else None, now):
            overdue.append(member.code)
    return {"failing": failing, "overdue": overdue}


class MemberUpdated(BaseModel):
    """What ``PATCH /admin/members/{code}`` answers and ``lienhop members update`` prints."""

    changed: dict[str, Any] = Field(description="The fields that changed, with their new values")
    relisted: bool = Field(
        False, description="The OAI-PMH source changed: the next harvest lists the whole repository again"
    )
    report: MemberStatusReport


async def update_member(
    store: RecordStore, code: str, changes: MemberUpdate, force: bool = False, today: date | None = None
) -> MemberUpdated:
    """Apply ``changes`` to a member under the consortium's rules (see :func:`member_changes`)."""
    current = await store.get_member(code)
    changed = member_changes(current, changes, today or date.today(), force=force)
    relisted = bool(changed.keys() & HARVEST_SOURCE_FIELDS)
    if changed:
        await store.update_member(current.code, relist=relisted, **changed)
    return MemberUpdated(changed=changed, relisted=relisted, report=await member_status(store, current.code))


# ---------------------------------------------------------------------------- holdings


class Holding(BaseModel):
    """One member's record of an item (the record page's "also held by")."""

    record_id: str
    title: str | None = None
    year: int | None = None
    type: str | None = None
    opac_url: str | None = None


class MemberHoldings(BaseModel):
    """A member holding an item, with its records of it."""

    code: str
    name_vi: str
    name_en: str | None = None
    status: MemberStatus
    holdings: list[Holding] = Field(default_factory=list)


class LookupResult(BaseModel):
    """The answer to ``GET /lookup``: the works holding the identifier, or titled so, each in the
    holdings model (``work_id``, ``title``, ``holdings_count``, ``holdings``)."""

    by: Literal["isbn", "issn", "doi", "title"]
    query: str
    normalised: str | None = Field(None, description="The identifier's stored form, or the folded title")
    total_members: int = Field(0, description="Distinct members holding any of the works")
    works: list[Holdings] = Field(default_factory=list)


def group_by_member(pairs: Iterable[tuple[Member, Record]]) -> list[MemberHoldings]:
    """Holdings grouped per member (in first-seen order), each record once."""
    groups: dict[str, MemberHoldings] = {}
    seen: set[str] = set()
    for member, record in pairs:
        if record.id in seen:
            continue
        seen.add(record.id)
        group = groups.setdefault(
            member.code,
            MemberHoldings(
                code=member.code, name_vi=member.name_vi, name_en=member.name_en, status=member.status
            ),
        )
        group.holdings.append(
            Holding(
                record_id=record.id,
                title=record.title,
                year=record.year,
                type=record.type,
                opac_url=opac_link(member, record),
            )
        )
    return list(groups.values())


def normalise_identifier(kind: IdentifierKind, value: str) -> str:
    """The stored form of an identifier as typed; :class:`InvalidInput` says what is wrong with it."""
    text = value.strip()
    if kind == "isbn":
        try:
            return stdisbn.to_isbn13(stdisbn.validate(text))
        except ValidationError as exc:
            raise InvalidInput(f"isbn {value!r} is not a valid ISBN-10 or ISBN-13: {exc}") from None
    if kind == "issn":
        try:
            return stdissn.format(stdissn.validate(text))
        except ValidationError as exc:
            raise InvalidInput(f"issn {value!r} is not a valid ISSN: {exc}") from None
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", text, flags=re.IGNORECASE).lower()
    if not _DOI.match(doi):
        raise InvalidInput(f"doi {value!r} is not a DOI (expected 10.<registrant>/<suffix>)")
    return doi


async def works_holdings(
    store: RecordStore, work_ids: Sequence[str], first: str | None = None
) -> list[Holdings]:
    """The holdings model of each work (in the order given), read in one go; a work no registered
    member holds any more is left out."""
    held = await store.works_records(work_ids)
    members = await members_by_code(store)
    found = [holdings(wid, held.get(wid, []), members, first) for wid in work_ids]
    return [work for work in found if work.holdings]


def _result(
    by: Literal["isbn", "issn", "doi", "title"], query: str, normalised: str | None, works: list[Holdings]
) -> LookupResult:
    holders = {h.code for work in works for h in work.holdings}
    return LookupResult(by=by, query=query, normalised=normalised, total_members=len(holders), works=works)


async def lookup_identifier(
    store: RecordStore, kind: IdentifierKind, value: str, first: str | None = None
) -> LookupResult:
    """The works holding this ISBN (10 or 13, hyphens or not), ISSN or DOI, and who holds each
    (``first``: the member, e.g. the widget's, listed first)."""
    normalised = normalise_identifier(kind, value)
    work_ids = await store.find_works(kind, normalised)
    return _result(kind, value, normalised, await works_holdings(store, work_ids, first))


async def lookup_title(
    store: RecordStore, title: str, first: str | None = None, search: SearchService | None = None
) -> LookupResult:
    """The works with this exact title, and who holds each: a record's folded title + subtitle
    equals the asked title's folded form (diacritics, case and punctuation aside), or, when the
    search index is at hand, its folded title alone or its title proper does (``_title_forms``: an
    OPAC often gives the title proper without the subtitle). Never merely similar titles."""
    folded = folded_text(title)
    if not folded:
        raise InvalidInput("title must contain at least one letter or digit")
    work_ids = set(await store.find_works_by_title(folded))
    if search is not None:
        work_ids |= await _titled_exactly(store, search, folded)
    ordered = sorted(work_ids, key=work_ord)
    return _result("title", title, folded, await works_holdings(store, ordered, first))


async def _titled_exactly(store: RecordStore, search: SearchService, folded: str) -> set[str]:
    """Works holding a record whose folded title alone is ``folded``: the works whose titles hold
    the words as a phrase, checked record by record."""
    request = SearchRequest(q=f'title:"{folded}"', size=_TITLE_CANDIDATES, facets=[], highlight=False)
    candidates = [hit.work_id for hit in (await search.search(request)).hits]
    held = await store.works_records(candidates) if candidates else {}
    return {
        work_id for work_id, records in held.items() if any(folded in _title_forms(s.record) for s in records)
    }


def _title_forms(record: Record) -> set[str]:
    """The folded forms a record's title goes by: the title as given, and the title proper before an
    ISBD ``" : "`` (other title information) or ``" / "`` (statement of responsibility), as oai_dc
    records often carry the subtitle inside ``dc:title``."""
    title = record.title or ""
    proper = re.split(r"\s[:/]\s", title, maxsplit=1)[0]
    return {folded_text(title), folded_text(proper)} - {""}


async def other_holders(store: RecordStore, record: Record) -> list[MemberHoldings]:
    """Other members' records of the record's work (its live records held by other members)."""
    work_id = await store.work_of(record.id)
    if work_id is None:  # a tombstone belongs to no work
        return []
    held = (await store.works_records([work_id])).get(work_id, [])
    members = await members_by_code(store)
    pairs = [
        (members[s.record.member], s.record)
        for s in held
        if s.record.member != record.member and s.record.member in members
    ]
    return group_by_member(pairs)

"""The union catalogue's answers shared by the API, the web pages and the CLI.

Member status reports, OPAC deep links, and "who holds it" lookups by identifier or by title.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

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
from store.common import utcnow
from store.front import RecordStore

if TYPE_CHECKING:
    from search.service import SearchService

IdentifierKind = Literal["isbn", "issn", "doi"]
_PLACEHOLDER = re.compile(r"\{(local_id|oai_identifier|isbn)\}")
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


# ---------------------------------------------------------------------------- links


def local_id(record: Record) -> str:
    """The member's own id of a record: MARC 001, else the last part of the OAI identifier."""
    if record.identifiers.local_id:
        return record.identifiers.local_id
    return re.split(r"[:/]", record.oai_identifier)[-1]


def opac_link(member: Member, record: Record) -> str | None:
    """The deep link into the member's OPAC, or None without a template or a value it needs."""
    template = member.opac_url_template
    if not template:
        return None
    values = {
        "local_id": local_id(record),
        "oai_identifier": record.oai_identifier,
        "isbn": record.identifiers.isbn[0] if record.identifiers.isbn else "",
    }
    needed = _PLACEHOLDER.findall(template)
    if any(not values[name] for name in needed):
        return None
    return _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), template)


# ---------------------------------------------------------------------------- holdings


class Holding(BaseModel):
    """One member's record of an item."""

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


class WorkHoldings(BaseModel):
    """An item (one identifier, or one work key for a title lookup) and who holds it."""

    key: str
    title: str | None = None
    members: list[MemberHoldings] = Field(default_factory=list)


class LookupResult(BaseModel):
    """The answer to ``GET /lookup``."""

    by: Literal["isbn", "issn", "doi", "title"]
    query: str
    normalised: str | None = None
    total_members: int = 0
    works: list[WorkHoldings] = Field(default_factory=list)


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


async def holders_of(store: RecordStore, kind: IdentifierKind, normalised: str) -> list[MemberHoldings]:
    """Members holding a live record with this normalised identifier."""
    found = await store.find_by_identifier(kind, normalised)
    return group_by_member((h.member, h.record) for h in found)


async def lookup_identifier(store: RecordStore, kind: IdentifierKind, value: str) -> LookupResult:
    """Who holds the item with this ISBN (10 or 13, hyphens or not), ISSN or DOI."""
    normalised = normalise_identifier(kind, value)
    members = await holders_of(store, kind, normalised)
    title = next((h.title for m in members for h in m.holdings if h.title), None)
    works = [WorkHoldings(key=f"{kind}:{normalised}", title=title, members=members)] if members else []
    return LookupResult(by=kind, query=value, normalised=normalised, total_members=len(members), works=works)


async def lookup_title(store: RecordStore, search: SearchService, title: str, size: int = 50) -> LookupResult:
    """Who holds works matching a title: search hits grouped by work key."""
    words = " ".join(re.findall(r"\w+", title))
    if not words:
        raise InvalidInput("title must contain at least one letter or digit")
    response = await search.search(SearchRequest(q=words, size=size, facets=[], highlight=False))
    order: list[str] = []
    by_work: dict[str, list[str]] = {}
    for hit in response.hits:
        key = hit.work_key or f"id:{hit.id}"
        if key not in by_work:
            order.append(key)
        by_work.setdefault(key, []).append(hit.id)
    stored = {s.id: s.record for s in await store.get_records([h.id for h in response.hits])}
    members = {m.code: m for m in await store.list_members()}
    works: list[WorkHoldings] = []
    for key in order:
        records = [stored[i] for i in by_work[key] if i in stored]
        pairs = [(members[r.member], r) for r in records if r.member in members]
        if pairs:
            works.append(WorkHoldings(key=key, title=pairs[0][1].title, members=group_by_member(pairs)))
    holders = {m.code for w in works for m in w.members}
    return LookupResult(by="title", query=title, total_members=len(holders), works=works)


async def other_holders(store: RecordStore, record: Record) -> list[MemberHoldings]:
    """Other members' records of the same item: same ISBN or DOI (ISSN only for a journal itself)."""
    ids = record.identifiers
    pairs: list[tuple[Member, Record]] = []
    kinds: list[tuple[IdentifierKind, list[str]]] = [("isbn", ids.isbn), ("doi", ids.doi)]
    if record.type == "journal":  # an article's ISSN names its journal, not the article
        kinds.append(("issn", ids.issn))
    for kind, values in kinds:
        for value in values:
            for holding in await store.find_by_identifier(kind, value):
                if holding.member.code != record.member:
                    pairs.append((holding.member, holding.record))
    return group_by_member(pairs)

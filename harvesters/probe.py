"""Check a member's OAI-PMH endpoint before harvesting it: what a consortium admin does by hand when a
library joins (does it answer, does it offer our format and the sets we were given, do its records
read?), done in a few requests and reported check by check.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.errors import HarvestError, LienhopError
from schemas.member import Member
from schemas.probe import ProbeCheck, ProbeReport
from schemas.record import Record
from schemas.settings import Settings

from .oai.client import OAIClient, make_http_client
from .oai.errors import BadArgument, NoRecordsMatch
from .oai.protocol import RepositoryInfo, format_datestamp, list_params, other_granularity
from .records import RecordsPage, read_records_page

#: Seconds one request of a check may take in all (the harvest's own deadline is longer).
_PROBE_REQUEST_DEADLINE = 60.0

#: Below this share of titled records on the first page, the mapping is worth a look (a warning).
_MIN_TITLED = 0.5


async def check_member(member: Member, settings: Settings) -> ProbeReport:
    """Identify, ListMetadataFormats, ListSets (when the member has sets), a first ListRecords page and
    an incremental one (``from`` yesterday).

    Nothing is stored. Each check is ``ok``, ``warn`` (harvesting will work, but look) or ``fail``
    (harvesting will fail or miss records); a failing Identify stops the rest. The harvester's
    outbound policy applies (``harvesters.outbound``), and every reason a repository cannot be
    reached reads the same, "unreachable", so that checks cannot map ports.
    """
    if not member.oai_url:
        return ProbeReport(
            code=member.code,
            oai_url=None,
            checks=[ProbeCheck(name="endpoint", status="fail", detail="no OAI-PMH URL registered")],
        )
    checks: list[ProbeCheck] = []
    # an admin is waiting for the answer: one retry, not the harvest's patient backoff, and short
    # deadlines (a repository that trickles its answer must not hold the admin's request for long)
    settings = settings.model_copy(
        update={
            "max_retries": min(settings.max_retries, 1),
            "request_deadline": min(settings.request_deadline, _PROBE_REQUEST_DEADLINE),
            "page_deadline": min(settings.page_deadline, 2 * _PROBE_REQUEST_DEADLINE),
        }
    )
    async with make_http_client(settings) as http:
        client = OAIClient(member.oai_url, settings, http)
        try:
            info = await client.identify()
        except LienhopError as exc:
            checks.append(ProbeCheck(name="Identify", status="fail", detail=_reason(exc)))
            return ProbeReport(code=member.code, oai_url=member.oai_url, checks=checks)
        checks.append(_identify_check(info))
        checks.append(await _format_check(client, member))
        if member.sets:
            checks.append(await _sets_check(client, member))
        checks.append(await _sample_check(client, member))
        checks.append(await _incremental_check(client, member, info.granularity))
    return ProbeReport(code=member.code, oai_url=member.oai_url, repository=info.as_dict(), checks=checks)


def _reason(exc: LienhopError) -> str:
    return f"{type(exc).__name__}: {exc.detail}"


def _identify_check(info: RepositoryInfo) -> ProbeCheck:
    facts = (
        f"{info.name or 'unnamed repository'}; granularity {info.granularity}; "
        f"deletedRecord {info.deleted_record or 'not given'}; earliest {info.earliest_datestamp or '?'}"
    )
    if info.protocol_version != "2.0":
        version = info.protocol_version
        return ProbeCheck(name="Identify", status="warn", detail=f"protocol {version!r}; {facts}")
    if info.deleted_record in {"no", "transient"}:
        # not an error: reconciliation (ListIdentifiers) finds the deletions it does not report
        facts += " (deletions found by reconciliation, see lienhop harvest --reconcile)"
    return ProbeCheck(name="Identify", status="ok", detail=facts)


async def _format_check(client: OAIClient, member: Member) -> ProbeCheck:
    name, prefix = "ListMetadataFormats", member.metadata_prefix
    try:
        formats = await client.list_metadata_formats()
    except LienhopError as exc:
        return ProbeCheck(name=name, status="warn", detail=_reason(exc))
    offered = ", ".join(sorted(f.prefix for f in formats)) or "nothing"
    if any(f.prefix == prefix for f in formats):
        return ProbeCheck(name=name, status="ok", detail=f"{prefix} offered ({offered})")
    return ProbeCheck(name=name, status="fail", detail=f"{prefix} not offered; the repository has {offered}")


async def _sets_check(client: OAIClient, member: Member) -> ProbeCheck:
    try:
        specs = {s.spec for s in await client.list_sets()}
    except LienhopError as exc:
        return ProbeCheck(name="ListSets", status="fail", detail=_reason(exc))
    if not specs:
        return ProbeCheck(name="ListSets", status="fail", detail="sets configured; the repository has none")
    missing = [s for s in member.sets if s not in specs]
    if missing:
        detail = f"unknown set(s) {', '.join(missing)} among the repository's {len(specs)}"
        return ProbeCheck(name="ListSets", status="fail", detail=detail)
    detail = f"{', '.join(member.sets)} found among the repository's {len(specs)} sets"
    return ProbeCheck(name="ListSets", status="ok", detail=detail)


async def _first_page(client: OAIClient, member: Member, from_: str | None = None) -> RecordsPage[Record]:
    """The first ListRecords page of the member's (first) set, read exactly as the harvest reads it."""
    prefix = member.metadata_prefix
    set_spec = member.sets[0] if member.sets else None

    async def decode(data: bytes) -> RecordsPage[Record]:
        return read_records_page(data, member.code, prefix)

    return await client.request_with(
        "ListRecords", decode, list_params("ListRecords", prefix, set_spec, from_)
    )


async def _sample_check(client: OAIClient, member: Member) -> ProbeCheck:
    """The first ListRecords page, read exactly as the harvest reads it."""
    try:
        page = await _first_page(client, member)
    except NoRecordsMatch:
        return ProbeCheck(name="ListRecords", status="warn", detail="no records to harvest (noRecordsMatch)")
    except HarvestError as exc:
        return ProbeCheck(name="ListRecords", status="fail", detail=_reason(exc))
    live = [r for r in page.records if not r.deleted]
    titled = sum(1 for r in live if r.title)
    size = f" of {page.complete_list_size}" if page.complete_list_size is not None else ""
    detail = (
        f"first page: {len(page.records)}{size} records read, {len(page.records) - len(live)} deleted, "
        f"{len(page.bad)} unreadable, {titled} with a title"
    )
    if page.cleaned:
        detail += "; invalid XML characters were removed"
    if page.bad:
        first = page.bad[0].reason
        return ProbeCheck(name="ListRecords", status="warn", detail=f"{detail}; first problem: {first}")
    if live and titled < _MIN_TITLED * len(live):
        return ProbeCheck(name="ListRecords", status="warn", detail=f"{detail}; most records have no title")
    return ProbeCheck(name="ListRecords", status="ok", detail=detail)


async def _incremental_check(client: OAIClient, member: Member, granularity: str) -> ProbeCheck:
    """A ListRecords ``from`` yesterday, as incremental harvests ask: accepted, and obeyed?

    A repository that refuses ``from`` at the granularity it declares is harvested at the other one
    (see ``harvesters.listing``); one that ignores ``from`` hands back everything every time
    (dataverse.harvard.edu#243): harvests still work, unchanged records are skipped, but each reads the
    whole repository.
    """
    name = "incremental"
    since = datetime.now(UTC) - timedelta(days=1)
    refused = None
    for attempt in (granularity, other_granularity(granularity)):
        sent = format_datestamp(since, attempt)
        try:
            page: RecordsPage[Record] | None = await _first_page(client, member, sent)
        except NoRecordsMatch:
            page = None
        except BadArgument as exc:
            refused = refused or f"from={sent} refused ({exc.detail})"
            continue
        except HarvestError as exc:
            return ProbeCheck(name=name, status="fail", detail=f"from={sent}: {_reason(exc)}")
        found = (
            "nothing changed since"
            if page is None
            else f"{len(page.records) + len(page.bad)} records on the first page"
        )
        if refused is not None:
            detail = f"{refused}; {granularity} is declared, harvests fall back to from={sent}: {found}"
            return ProbeCheck(name=name, status="warn", detail=detail)
        older = [
            r
            for r in (page.records if page else [])
            if r.datestamp is not None and r.datestamp < since - timedelta(days=1)
        ]
        if older:
            detail = (
                f"from={sent}: {found}, {len(older)} of them older than that: the repository ignores from, "
                "so every harvest reads it all (unchanged records are skipped)"
            )
            return ProbeCheck(name=name, status="warn", detail=detail)
        return ProbeCheck(name=name, status="ok", detail=f"from={sent}: {found}")
    return ProbeCheck(
        name=name, status="fail", detail=f"{refused}, at either granularity: incremental harvests fail"
    )

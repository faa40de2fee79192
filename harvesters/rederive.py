"""Map stored records again from the metadata kept with them, without asking the members again.

The record store keeps each record's metadata as received (``Record.raw``: the ``oai_dc`` element,
or MARCXML in Unicode whatever the source encoding) precisely so that a better mapping (a new
identifier rule, a fixed type or language table) reaches every record already harvested or
imported: ``lienhop rederive`` runs the current parsers over it, and only records whose normalised
form changed are rewritten (and so re-indexed). RecordManager's ``renormalize`` does the same job.
Nothing is fetched, so a consortium of 130 members is not harvested again for a parser fix.
"""

from __future__ import annotations

from schemas.errors import InvalidInput
from schemas.member import RunReport
from schemas.progress import NullProgress, ProgressSink
from schemas.record import Record
from store.front import RecordStore

from .commits import OnCommit
from .oai.protocol import Header
from .parse_dc import record_from_dc
from .parse_marc import record_from_stored_marcxml
from .xml import parse_xml


class NoStoredMetadata(InvalidInput):
    """The record was stored without the metadata it came as (nothing to map again)."""

    title = "No stored metadata to map again"


def rederive_record(stored: Record) -> Record:
    """``stored`` mapped again from its ``raw`` metadata by today's parsers (pure; no I/O).

    Identity (member, OAI identifier), datestamp and format stay as stored. Raises
    :class:`NoStoredMetadata`, or what the parsers raise for metadata they no longer accept.
    """
    if not stored.raw:
        raise NoStoredMetadata(f"{stored.oai_identifier} has no stored metadata")
    if stored.raw_format == "oai_dc":
        root = parse_xml(stored.raw.encode()).root
        header = Header(stored.oai_identifier, stored.datestamp, deleted=False)
        return record_from_dc(root, header, stored.member)
    return record_from_stored_marcxml(
        stored.raw, stored.member, stored.raw_format, stored.oai_identifier, stored.datestamp
    )


async def rederive_member(
    store: RecordStore,
    code: str,
    progress: ProgressSink | None = None,
    on_commit: OnCommit | None = None,
    batch: int = 500,
) -> RunReport:
    """Map every live record of member ``code`` again and store those that changed (a run of kind
    ``rederive``: ``updated`` and ``unchanged`` count them).

    A record today's parsers refuse is left as it was, not lost: the run then ends not ok, with how
    many and the first reason in its ``error``.
    """
    member = await store.get_member(code)
    sink = progress or NullProgress()
    total = (await store.record_counts(member.code)).get(member.code)
    sink.begin(member.code, total=total.active if total else None)
    run = await store.start_run(member.code, "rederive")
    assert run.id is not None
    failed = 0
    first_failure = ""
    try:
        async for page in store.iter_live(batch=batch, member=member.code):
            fresh: list[Record] = []
            for stored in page:
                try:
                    fresh.append(rederive_record(stored.record))
                except Exception as exc:  # one record must not stop the others; it stays as it was
                    failed += 1
                    if not first_failure:
                        first_failure = f"{stored.record.oai_identifier}: {type(exc).__name__}: {exc}"
            await store.commit_page(member.code, run.id, fresh)
            if on_commit is not None:
                await on_commit()
            sink.advance(member.code, len(page))
    except BaseException as exc:
        await store.finish_run(run.id, ok=False, error=f"{type(exc).__name__}: {exc}")
        sink.end(member.code, ok=False, message=str(exc))
        raise
    error = None
    if failed:
        error = f"{failed} record(s) could not be mapped again, left as they were; first: {first_failure}"
    report = await store.finish_run(run.id, ok=not failed, error=error)
    sink.end(member.code, ok=not failed, message=f"{report.updated} updated, {report.unchanged} unchanged")
    return report

"""Exports of a work (``GET /works/{id}?format=``): its fullest record, with every holder where the
format has room for them: an 852 (location) per holder's record in MARC, and in the other formats
the work's page and each holder's OPAC page among the record's links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pymarc
from fastapi import Request, Response
from lxml import etree
from pymarc import Field, Subfield

from schemas.errors import NotFound
from schemas.member import Member
from schemas.work import Holdings, fullest
from store.records import StoredRecord

from ...catalog import local_id
from ...deps import get_context
from ...holdings import holdings
from ..oai.xml import MARC
from .formats import ExportFormat, choose_format
from .marc import iso2709, marc_record, marcxml_element


def work_links(public_url: str, work_id: str, summary: Holdings) -> list[str]:
    """The work's page, then each holder's OPAC page of it."""
    links = [f"{public_url.rstrip('/')}/works/{work_id}"]
    links += [r.opac_url for h in summary.holdings for r in h.records if r.opac_url]
    return list(dict.fromkeys(links))


def work_marc(
    work_id: str, held: Sequence[StoredRecord], members: Mapping[str, Member], public_url: str
) -> pymarc.Record:
    """The fullest record's MARC (the member's own when it came as MARC), plus an 852 per holder's
    record: $a the member's code, $b its name, $j its own id of the record, $u its OPAC page."""
    live = [s for s in held if not s.deleted]
    summary = holdings(work_id, live, members)
    best = fullest([s.record for s in live])
    marc = marc_record(best, work_links(public_url, work_id, summary))
    by_id = {s.id: s.record for s in live}
    for holding in summary.holdings:
        for held_record in holding.records:
            record = by_id[held_record.record_id]
            subfields = [
                Subfield("a", holding.code),
                Subfield("b", holding.name_vi),
                Subfield("j", local_id(record)),
            ]
            if held_record.opac_url:
                subfields.append(Subfield("u", held_record.opac_url))
            marc.add_ordered_field(Field(tag="852", indicators=[" ", " "], subfields=subfields))  # type: ignore[arg-type]
    return marc


def work_export(
    chosen: ExportFormat,
    work_id: str,
    held: Sequence[StoredRecord],
    members: Mapping[str, Member],
    public_url: str,
) -> bytes:
    """The work in ``chosen``'s format."""
    live = [s for s in held if not s.deleted]
    if not live:
        raise NotFound(f"work {work_id} has no live record to export")
    if chosen.name == "marcxml":
        collection = etree.Element(f"{{{MARC}}}collection", nsmap={"marc": MARC})
        collection.append(marcxml_element(work_marc(work_id, live, members, public_url)))
        return etree.tostring(collection, xml_declaration=True, encoding="UTF-8")
    if chosen.name == "marc":
        return iso2709(work_marc(work_id, live, members, public_url), "the work's record")
    summary = holdings(work_id, live, members)
    return chosen.write(fullest([s.record for s in live]), work_links(public_url, work_id, summary))


async def work_export_response(
    request: Request,
    format: str | None,
    work_id: str,
    held: Sequence[StoredRecord],
    members: Mapping[str, Member],
) -> Response | None:
    """The export ``format``/``Accept`` asks for, or ``None`` when the JSON work is wanted."""
    chosen = choose_format(format, request.headers.get("accept"))
    if chosen is None:
        return None
    body = work_export(chosen, work_id, held, members, get_context(request).settings.public_url)
    return Response(
        body,
        media_type=chosen.content_type,
        headers={"Content-Disposition": f'inline; filename="{work_id}.{chosen.extension}"', "Vary": "Accept"},
    )

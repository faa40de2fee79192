"""searchRetrieve: a translated CQL query run through the search service, its page of hits made into
works (one SRU record per work), each written from the work's fullest record."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lxml import etree

from schemas.errors import InvalidInput, NotFound, QuerySyntaxError, WorkMoved
from schemas.member import Member
from schemas.search import SearchRequest, SearchResponse
from schemas.work import fullest
from store.front import RecordStore
from store.records import StoredRecord

from ...holdings import holdings
from ..exports.dc import dc_element
from ..exports.formats import record_links
from ..exports.marc import marcxml_of
from ..hits import page_of_works
from ..works import members_by_code, works_records
from . import diagnostics as d
from .cql import Translation
from .diagnostics import SruDiagnostic
from .request import SCHEMA_IDS, SruRequest

if TYPE_CHECKING:
    from search.service import SearchService

SRW_DC = "info:srw/schema/1/dc-schema"
#: extraRecordData: the work's id and every member holding it (ours: SRU defines no holdings schema)
HOLDINGS_NS = "info:lienhop/sru/holdings-1"
Record = tuple[str, etree._Element, etree._Element]  # schema identifier, recordData, extraRecordData
_WORK_ID = re.compile(r"^w\d+$")


async def retrieve(
    request: SruRequest, translation: Translation, store: RecordStore, search: SearchService, public_url: str
) -> tuple[int, list[Record]]:
    """numberOfRecords and the records of the page asked for."""
    if translation.ids:
        work_ids = await _named_works(store, translation.ids)
        total = len(work_ids)
        page = work_ids[request.start - 1 : request.start - 1 + request.maximum]
    else:
        total, page = await _search_page(search, store, translation, request.start, request.maximum)
    if request.start > 1 and request.start > total:
        raise SruDiagnostic(
            d.FIRST_RECORD_OUT_OF_RANGE,
            str(request.start),
            f"startRecord {request.start} > numberOfRecords {total}",
        )
    return total, await _records(store, page, request.schema, public_url)


async def _named_works(store: RecordStore, ids: list[str]) -> list[str]:
    """The live works of rec.identifier values: work ids (a merged one followed) or record ids."""
    found: dict[str, None] = {}
    for value in ids:
        try:
            if _WORK_ID.match(value):
                try:
                    await store.get_work(value)
                    found.setdefault(value, None)
                except WorkMoved as moved:
                    found.setdefault(moved.new_id, None)
            else:
                work_id = await store.work_of(value)
                if work_id is not None:
                    found.setdefault(work_id, None)
        except NotFound:
            continue
    return list(found)


async def _search_page(
    search: SearchService, store: RecordStore, translation: Translation, start: int, maximum: int
) -> tuple[int, list[str]]:
    """numberOfRecords and the works from position ``start``."""

    async def fetch(page: int, size: int) -> SearchResponse:
        try:
            request = SearchRequest(
                q=translation.query,
                size=size,
                page=page,
                sort=translation.sort,
                facets=[],
                highlight=False,
                correct=False,
            )
            return await search.search(request)
        except QuerySyntaxError as exc:
            raise SruDiagnostic(
                d.QUERY_SYNTAX, translation.query, f"Query syntax error: {exc.detail}"
            ) from None
        except (InvalidInput, ValueError) as exc:
            raise SruDiagnostic(
                d.FIRST_RECORD_OUT_OF_RANGE, str(start), f"Beyond the first results: {exc}"
            ) from None

    return await page_of_works(fetch, store, start, maximum)


async def _records(store: RecordStore, work_ids: list[str], schema: str, public_url: str) -> list[Record]:
    if not work_ids:
        return []
    held = await works_records(store, work_ids)
    members = await members_by_code(store)
    out = []
    for work_id in work_ids:
        live = [s.record for s in held.get(work_id, []) if not s.deleted]
        if not live:
            continue
        record = fullest(live)
        links = record_links(public_url, members.get(record.member), record)
        data = marcxml_of(record, links) if schema == "marcxml" else _srw_dc(dc_element(record, links))
        out.append((SCHEMA_IDS[schema], data, _holdings(work_id, held[work_id], members)))
    return out


def _holdings(work_id: str, held: list[StoredRecord], members: dict[str, Member]) -> etree._Element:
    summary = holdings(work_id, held, members)
    root = etree.Element(f"{{{HOLDINGS_NS}}}work", nsmap={"lh": HOLDINGS_NS}, id=work_id)
    root.set("holdings", str(summary.holdings_count))
    for holding in summary.holdings:
        for record in holding.records:
            element = etree.SubElement(
                root, f"{{{HOLDINGS_NS}}}holder", code=holding.code, record=record.record_id
            )
            if record.opac_url:
                element.set("opac", record.opac_url)
            element.text = holding.name_vi
    return root


def _srw_dc(oai_dc: etree._Element) -> etree._Element:
    """The Dublin Core of the OAI feed under SRU's own DC schema element (``srw_dc:dc``)."""
    root = etree.Element(
        f"{{{SRW_DC}}}dc", nsmap={"srw_dc": SRW_DC, "dc": "http://purl.org/dc/elements/1.1/"}
    )
    root.extend(list(oai_dc))
    return root

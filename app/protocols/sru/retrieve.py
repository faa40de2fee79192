"""searchRetrieve: a translated CQL query run through the search service, its page of hits made into
works (one SRU record per work), each written from the work's fullest record."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lxml import etree

from schemas.errors import InvalidInput, NotFound, QuerySyntaxError, WorkMoved
from schemas.search import SearchRequest, SearchResponse
from schemas.work import fullest
from store.front import RecordStore

from ..exports.dc import dc_element
from ..exports.formats import record_links
from ..exports.marc import marcxml_of
from ..hits import work_ids_of
from ..works import members_by_code, works_records
from . import diagnostics as d
from .cql import Translation
from .diagnostics import SruDiagnostic
from .request import SCHEMA_IDS, SruRequest

if TYPE_CHECKING:
    from search.service import SearchService

SRW_DC = "info:srw/schema/1/dc-schema"
_WORK_ID = re.compile(r"^w\d+$")


async def retrieve(
    request: SruRequest, translation: Translation, store: RecordStore, search: SearchService, public_url: str
) -> tuple[int, list[tuple[str, etree._Element]]]:
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
    """numberOfRecords and the works from position ``start``: the one or two search pages of size
    ``maximum`` that cover them (SRU positions need not fall on a page boundary)."""
    size = max(maximum, 1)
    first, offset = divmod(start - 1, size)
    pages = [first + 1] if offset == 0 else [first + 1, first + 2]
    hits = []
    response: SearchResponse | None = None
    for page in pages:
        try:
            request = SearchRequest(
                q=translation.query, size=size, page=page, sort=translation.sort, facets=[], highlight=False
            )
            response = await search.search(request)
        except QuerySyntaxError as exc:
            raise SruDiagnostic(
                d.QUERY_SYNTAX, translation.query, f"Query syntax error: {exc.detail}"
            ) from None
        except (InvalidInput, ValueError) as exc:
            raise SruDiagnostic(
                d.FIRST_RECORD_OUT_OF_RANGE, str(start), f"Beyond the first results: {exc}"
            ) from None
        hits.extend(response.hits)
        if len(response.hits) < size:
            break
    assert response is not None
    if maximum == 0:
        return response.total, []
    window = response.model_copy(update={"hits": hits[offset : offset + size]})
    return response.total, await work_ids_of(window, store)


async def _records(
    store: RecordStore, work_ids: list[str], schema: str, public_url: str
) -> list[tuple[str, etree._Element]]:
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
        out.append((SCHEMA_IDS[schema], data))
    return out


def _srw_dc(oai_dc: etree._Element) -> etree._Element:
    """The Dublin Core of the OAI feed under SRU's own DC schema element (``srw_dc:dc``)."""
    root = etree.Element(
        f"{{{SRW_DC}}}dc", nsmap={"srw_dc": SRW_DC, "dc": "http://purl.org/dc/elements/1.1/"}
    )
    root.extend(list(oai_dc))
    return root

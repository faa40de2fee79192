"""The union catalogue as one OAI-PMH repository: an item per member record, a set per member and per
record type, ``oai_dc`` and ``marcxml`` (the member's own MARC when it came as MARC).

Identifiers are ``oai:<host>:<record id>`` with ``<host>`` from ``LIENHOP_PUBLIC_URL``, never from a
request's Host header: an identifier must not change with the address a harvester happens to use.
A resumption token carries the request and ``[last change number listed, cursor, list size]``, so it
stays valid for ever, across restarts and processes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from schemas.member import Member
from schemas.record import RECORD_TYPES, Record
from store.front import RecordStore

from ..exports.dc import dc_element
from ..exports.formats import record_links
from ..exports.marc import marcxml_of
from . import catalogue_reads as reads
from .arguments import ListQuery
from .errors import BadResumptionToken
from .provider import Item, Page
from .tokens import TokenCodec
from .xml import MARCXML_FORMAT, OAI_DC_FORMAT, Header, MetadataFormat, RepositoryInfo

PAGE_SIZE = 100
TYPE_NAMES = {
    "book": "Sách / Books",
    "thesis": "Luận văn, luận án / Theses",
    "article": "Bài báo / Articles",
    "report": "Báo cáo khoa học / Research reports",
    "conference": "Kỷ yếu hội nghị / Conference papers",
    "journal": "Tạp chí / Journals",
    "dataset": "Bộ dữ liệu / Datasets",
    "other": "Tài liệu khác / Other documents",
}
_RECORD_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


class CatalogueRepository:
    """The union catalogue's records, for the shared provider (one instance per request)."""

    formats: Sequence[MetadataFormat] = (OAI_DC_FORMAT, MARCXML_FORMAT)

    def __init__(self, store: RecordStore, public_url: str, page_size: int = PAGE_SIZE) -> None:
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.host = urlsplit(self.public_url).hostname or "localhost"
        self.base_url = f"{self.public_url}/oai"
        self.prefix = f"oai:{self.host}:"
        self.page_size = page_size
        self.tokens = TokenCodec(f"catalogue:{self.host}")
        self._members: dict[str, Member] | None = None

    async def identify(self, base_url: str) -> RepositoryInfo:
        earliest = await reads.earliest_change(self.store.engine)
        # adminEmail must have a dotted domain (OAI-PMH schema); a bare "localhost" gets one
        domain = self.host if "." in self.host else f"{self.host}.localdomain"
        return RepositoryInfo(
            name="Lienhop – Mục lục liên hợp, Liên hợp thư viện Việt Nam về nguồn tin KH&CN "
            "(union catalogue of the Vietnam Library Consortium on S&T information)",
            base_url=self.base_url,  # never the address of the request
            admin_emails=[f"lienhop@{domain}"],
            earliest=earliest or datetime.now(UTC),
            repository_identifier=self.host,
            sample_identifier=f"{self.prefix}hue-0123456789abcdef",
        )

    async def list_sets(self) -> list[tuple[str, str]]:
        members = await self._member_map()
        sets = [("member", "Thành viên / Members")]
        sets += [
            (f"member:{m.code}", f"{m.name_vi} / {m.name_en}" if m.name_en else m.name_vi)
            for m in members.values()
        ]
        sets.append(("type", "Loại tài liệu / Record types"))
        sets += [(f"type:{kind}", TYPE_NAMES[kind]) for kind in RECORD_TYPES]
        return sets

    async def get_item(self, identifier: str) -> Item | None:
        record_id = identifier.removeprefix(self.prefix)
        if record_id == identifier or not _RECORD_ID.match(record_id):
            return None
        row = await reads.get_item(self.store.engine, record_id)
        if row is None:
            return None
        await self._member_map()
        return self._item(row)

    async def list_page(self, query: ListQuery, position: list[Any] | None, with_metadata: bool) -> Page:
        after, cursor, total = 0, 0, None
        if position is not None:
            if len(position) != 3 or not all(isinstance(v, int) and v >= 0 for v in position):
                raise BadResumptionToken("the resumptionToken holds no list position")
            after, cursor, total = position
        engine = self.store.engine
        rows = await reads.list_items(engine, query, after, self.page_size + 1, with_metadata)
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if total is None:
            total = await reads.count_items(engine, query) if more else len(rows)
        if with_metadata:
            await self._member_map()
        following = cursor + len(rows)
        return Page(
            items=[self._item(row) for row in rows],
            next_position=[rows[-1].seq, following, total] if more else None,
            # records changed during the harvest are listed again further on: the size may grow
            complete_list_size=max(total, following + 1) if more else following,
            cursor=cursor,
        )

    def metadata(self, item: Item, prefix: str) -> etree._Element:
        record: Record = item.content
        members = self._members or {}
        links = record_links(self.public_url, members.get(record.member), record)
        if prefix == "oai_dc":
            return dc_element(record, links)
        return marcxml_of(record, links)

    def _item(self, row: reads.ItemRow) -> Item:
        sets = [f"member:{row.member}"]
        if not row.deleted and row.type:
            sets.append(f"type:{row.type}")
        header = Header(f"{self.prefix}{row.id}", row.updated, sets, row.deleted)
        return Item(header, row.record)

    async def _member_map(self) -> dict[str, Member]:
        if self._members is None:
            self._members = {m.code: m for m in await self.store.list_members()}
        return self._members

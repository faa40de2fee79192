"""A small OAI-PMH 2.0 provider serving each demo member's repository at ``/demo/oai/{code}``.

It follows the protocol closely enough to exercise a real harvester: every verb, argument checks with
the right error codes, ``from``/``until`` at seconds granularity, persistent deletions, sets by record
type, and stateless resumption tokens (an offset signed together with the request, so tokens never
expire and a tampered one is refused with ``badResumptionToken``). The protocol itself is the shared
provider of ``app/protocols/oai``; this module holds the demo's records and how it writes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from lxml import etree

from schemas.errors import NotFound

from ..protocols.oai.arguments import ListQuery
from ..protocols.oai.errors import BadResumptionToken, NoRecordsMatch
from ..protocols.oai.provider import Item, Page, answer
from ..protocols.oai.tokens import TokenCodec
from ..protocols.oai.xml import (
    DC,
    MARC,
    MARCXML_FORMAT,
    OAI_DC,
    OAI_DC_FORMAT,
    XSI,
    Header,
    MetadataFormat,
    RepositoryInfo,
)
from .generator import DemoRecord, generate
from .members import BY_CODE, DemoMember

PAGE_SIZE = 100

SETS = {
    "type": "Theo loại tài liệu / By type",
    "type:book": "Sách / Books",
    "type:thesis": "Luận văn, luận án / Theses",
    "type:article": "Bài báo / Articles",
    "type:report": "Báo cáo khoa học / Research reports",
}


class DemoRepository:
    """One member's repository: its records, listed and written for the shared OAI-PMH provider."""

    formats: Sequence[MetadataFormat] = (OAI_DC_FORMAT, MARCXML_FORMAT)

    def __init__(self, member: DemoMember, records: Sequence[DemoRecord], page_size: int = PAGE_SIZE) -> None:
        self.member = member
        self.records = sorted(records, key=lambda r: (r.datestamp, r.identifier))
        self.by_id = {r.identifier: r for r in self.records}
        self.page_size = page_size
        self.tokens = TokenCodec(f"demo:{member.code}")

    async def identify(self, base_url: str) -> RepositoryInfo:
        earliest = self.records[0].datestamp if self.records else datetime(2019, 1, 1, tzinfo=UTC)
        return RepositoryInfo(
            name=f"{self.member.name_vi} – kho dữ liệu mẫu Lienhop",
            base_url=base_url,
            admin_emails=[f"thuvien@{self.member.host}"],
            earliest=earliest,
            repository_identifier=self.member.host,
            sample_identifier=f"oai:{self.member.host}:{self.member.code.lower()}000001",
        )

    async def list_sets(self) -> list[tuple[str, str]]:
        return list(SETS.items())

    async def get_item(self, identifier: str) -> Item | None:
        record = self.by_id.get(identifier)
        return None if record is None else self._item(record)

    async def list_page(self, query: ListQuery, position: list[Any] | None, with_metadata: bool) -> Page:
        if query.set_spec is not None and query.set_spec not in SETS:
            raise NoRecordsMatch(f"no set {query.set_spec!r}")
        matches = [r for r in self.records if self._matches(r, query)]
        offset = 0
        if position is not None:
            if len(position) != 1 or not isinstance(position[0], int) or position[0] < 0:
                raise BadResumptionToken("the resumptionToken holds no offset")
            offset = position[0]
            if matches and offset >= len(matches):
                raise BadResumptionToken("the token points past the end of the list")
        page = matches[offset : offset + self.page_size]
        following = offset + len(page)
        return Page(
            items=[self._item(r) for r in page],
            next_position=[following] if following < len(matches) else None,
            complete_list_size=len(matches),
            cursor=offset,
        )

    def metadata(self, item: Item, prefix: str) -> etree._Element:
        record: DemoRecord = item.content
        url = self.opac_url(record)
        return oai_dc(record, url) if prefix == "oai_dc" else marcxml(record, url)

    @staticmethod
    def _item(record: DemoRecord) -> Item:
        return Item(Header(record.identifier, record.datestamp, record.sets, record.deleted), record)

    @staticmethod
    def _matches(record: DemoRecord, query: ListQuery) -> bool:
        if query.start and record.datestamp < query.start:
            return False
        if query.end and record.datestamp > query.end:
            return False
        if query.set_spec:
            return any(s == query.set_spec or s.startswith(query.set_spec + ":") for s in record.sets)
        return True

    def opac_url(self, record: DemoRecord) -> str:
        return f"http://opac.{self.member.host}/record/{record.local_id}"


# ---------------------------------------------------------------------- metadata formats

_DC_TYPES = {
    "book": ("Book", "Sách", "info:eu-repo/semantics/book"),
    "thesis": ("Thesis", "Luận văn", "info:eu-repo/semantics/masterThesis"),
    "article": ("Article", "Bài báo", "info:eu-repo/semantics/article"),
    "report": ("Report", "Báo cáo", "info:eu-repo/semantics/report"),
}


def _variant(record: DemoRecord, n: int) -> int:
    """A stable per-record choice among ``n`` ways of writing the same thing."""
    return int(hashlib.sha1(record.identifier.encode()).hexdigest(), 16) % n


def oai_dc(record: DemoRecord, opac_url: str) -> etree._Element:
    """The record as simple Dublin Core."""
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd")

    def add(tag: str, text: str | None) -> None:
        if text:
            etree.SubElement(root, f"{{{DC}}}{tag}").text = text

    add("title", f"{record.title} : {record.subtitle}" if record.subtitle else record.title)
    for author in record.authors:
        add("creator", author)
    for subject in record.subjects:
        add("subject", subject)
    add("description", record.abstract)
    add("description", record.note)
    add("publisher", record.publisher)
    add("date", str(record.year) if record.year else None)
    add("type", _DC_TYPES[record.kind][_variant(record, 3)])
    add("language", record.language if _variant(record, 2) else {"vie": "vi", "eng": "en"}[record.language])
    add("identifier", opac_url)
    if record.isbn:
        add("identifier", f"ISBN {record.isbn}")
    if record.issn:
        add("identifier", f"ISSN {record.issn}")
    if record.doi:
        add("identifier", f"https://doi.org/{record.doi}" if _variant(record, 2) else f"doi:{record.doi}")
    if record.journal:
        add("source", f"{record.journal}, {record.year}" if record.year else record.journal)
    return root


def marcxml(record: DemoRecord, opac_url: str) -> etree._Element:
    """The record as MARC 21 in MARCXML."""
    root = etree.Element(f"{{{MARC}}}record", nsmap={"marc": MARC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{MARC} http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd")
    level = "a" if record.kind == "article" else "m"
    etree.SubElement(root, f"{{{MARC}}}leader").text = f"00000na{level} a2200000 i 4500"

    def control(tag: str, text: str) -> None:
        etree.SubElement(root, f"{{{MARC}}}controlfield", tag=tag).text = text

    def data(tag: str, ind: str, *subfields: tuple[str, str | None]) -> None:
        if not any(value for _code, value in subfields):
            return
        field = etree.SubElement(root, f"{{{MARC}}}datafield", tag=tag, ind1=ind[0], ind2=ind[1])
        for code, value in subfields:
            if value:
                etree.SubElement(field, f"{{{MARC}}}subfield", code=code).text = value

    year = f"{record.year:04d}" if record.year else "    "
    control("001", record.local_id)
    control("003", record.member)
    control("005", record.datestamp.strftime("%Y%m%d%H%M%S.0"))
    control("008", f"{record.datestamp:%y%m%d}s{year}    vm {' ' * 17}{record.language} d")
    data("020", "  ", ("a", record.isbn))
    data("024", "7 ", ("a", record.doi), ("2", "doi" if record.doi else None))
    data("041", "0 ", ("a", record.language))
    if record.authors:
        data("100", "1 ", ("a", record.authors[0]))
    data("245", "10", ("a", record.title), ("b", record.subtitle), ("c", "; ".join(record.authors) or None))
    data("264", " 1", ("b", record.publisher), ("c", year.strip() or None))
    if record.kind == "thesis":
        data("502", "  ", ("a", record.note))
    else:
        data("500", "  ", ("a", record.note))
    data("520", "  ", ("a", record.abstract))
    for subject in record.subjects:
        data("650", " 4", ("a", subject))
    data("655", " 7", ("a", _DC_TYPES[record.kind][1]), ("2", "local"))
    for author in record.authors[1:]:
        data("700", "1 ", ("a", author))
    if record.journal:
        data("773", "0 ", ("t", record.journal), ("x", record.issn), ("g", year.strip() or None))
    data("856", "40", ("u", opac_url))
    return root


# ---------------------------------------------------------------------- HTTP


def make_router(count: int | None = None, page_size: int = PAGE_SIZE) -> APIRouter:
    """The provider's router; ``count`` gives every member a smaller repository (tests)."""
    repositories: dict[str, DemoRepository] = {}

    def repository(code: str) -> DemoRepository:
        code = code.upper()
        if code not in BY_CODE:
            raise NotFound(f"no demo repository {code!r}")
        if code not in repositories:
            repositories[code] = DemoRepository(BY_CODE[code], generate(code, count), page_size)
        return repositories[code]

    router = APIRouter(tags=["demo"])

    @router.api_route("/demo/oai/{code}", methods=["GET", "POST"], include_in_schema=False)
    async def oai(code: str, request: Request) -> Response:
        """Answer one OAI-PMH request (GET query string or POST form body)."""
        # the demo answers at whatever address it is reached (the catalogue's /oai never does)
        return await answer(repository(code), request, str(request.url.replace(query="")))

    return router


def make_app(count: int | None = None, page_size: int = PAGE_SIZE) -> FastAPI:
    """An app serving only the demo provider (``lienhop demo`` without a running server, and tests)."""
    from ..errors import install_error_handlers

    app = FastAPI(title="Lienhop demo OAI-PMH provider")
    install_error_handlers(app)
    app.include_router(make_router(count=count, page_size=page_size))
    return app

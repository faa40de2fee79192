"""A small OAI-PMH 2.0 provider serving each demo member's repository at ``/demo/oai/{code}``.

It follows the protocol closely enough to exercise a real harvester: every verb, argument checks with
the right error codes, ``from``/``until`` at seconds granularity, persistent deletions, sets by record
type, and stateless resumption tokens (an offset signed together with the request, so tokens never
expire and a tampered one is refused with ``badResumptionToken``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request, Response
from lxml import etree

from schemas.errors import NotFound

from .generator import DemoRecord, generate
from .members import BY_CODE, DemoMember

PAGE_SIZE = 100

OAI = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
MARC = "http://www.loc.gov/MARC21/slim"
OAI_ID = "http://www.openarchives.org/OAI/2.0/oai-identifier"

FORMATS: dict[str, tuple[str, str]] = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC),
    "marcxml": ("http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd", MARC),
}
SETS = {
    "type": "Theo loại tài liệu / By type",
    "type:book": "Sách / Books",
    "type:thesis": "Luận văn, luận án / Theses",
    "type:article": "Bài báo / Articles",
    "type:report": "Báo cáo khoa học / Research reports",
}
# Which arguments each verb takes: (required, optional, exclusive).
VERBS: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "Identify": (frozenset(), frozenset(), None),
    "ListMetadataFormats": (frozenset(), frozenset({"identifier"}), None),
    "ListSets": (frozenset(), frozenset(), "resumptionToken"),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset(), None),
    "ListIdentifiers": (
        frozenset({"metadataPrefix"}),
        frozenset({"from", "until", "set"}),
        "resumptionToken",
    ),
    "ListRecords": (frozenset({"metadataPrefix"}), frozenset({"from", "until", "set"}), "resumptionToken"),
}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class ProtocolError(Exception):
    """An OAI-PMH ``<error>``; ``echo_args`` says whether ``<request>`` may repeat the arguments."""

    def __init__(self, code: str, message: str, echo_args: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.echo_args = echo_args


def stamp(value: datetime) -> str:
    """A UTC datestamp at seconds granularity."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _ListQuery:
    verb: str
    prefix: str
    start: datetime | None
    end: datetime | None
    set_spec: str | None
    offset: int = 0


class DemoRepository:
    """One member's repository: its records and the protocol logic answering requests on them."""

    def __init__(self, member: DemoMember, records: Sequence[DemoRecord], page_size: int = PAGE_SIZE) -> None:
        self.member = member
        self.records = sorted(records, key=lambda r: (r.datestamp, r.identifier))
        self.by_id = {r.identifier: r for r in self.records}
        self.page_size = page_size
        self._key = hashlib.sha256(f"lienhop-demo-token:{member.code}".encode()).digest()

    # ------------------------------------------------------------------ dispatch

    def respond(self, pairs: Sequence[tuple[str, str]], base_url: str, now: datetime | None = None) -> bytes:
        """The complete OAI-PMH response document to one request's arguments."""
        root = etree.Element(
            f"{{{OAI}}}OAI-PMH",
            nsmap={None: OAI, "xsi": XSI},  # type: ignore[dict-item]  # None: the default namespace (lxml-stubs says str)
        )
        root.set(f"{{{XSI}}}schemaLocation", f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
        etree.SubElement(root, f"{{{OAI}}}responseDate").text = stamp(now or datetime.now(UTC))
        request = etree.SubElement(root, f"{{{OAI}}}request")
        request.text = base_url
        try:
            args = self._check(pairs)
            for key, value in args.items():
                request.set(key, value)
            body = getattr(self, f"_{args['verb']}")(args, base_url)
            root.append(body)
        except ProtocolError as err:
            if not err.echo_args:
                request.attrib.clear()
            error = etree.SubElement(root, f"{{{OAI}}}error", code=err.code)
            error.text = err.message
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def _check(self, pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
        args: dict[str, str] = {}
        for key, value in pairs:
            if key in args:
                code = "badVerb" if key == "verb" else "badArgument"
                raise ProtocolError(code, f"argument {key!r} is repeated", echo_args=False)
            args[key] = value
        verb = args.get("verb")
        if verb not in VERBS:
            message = "no verb given" if verb is None else f"{verb!r} is not an OAI-PMH verb"
            raise ProtocolError("badVerb", message, echo_args=False)
        required, optional, exclusive = VERBS[verb]
        given = set(args) - {"verb"}
        allowed = required | optional | ({exclusive} if exclusive else set())
        if unknown := sorted(given - allowed):
            raise ProtocolError("badArgument", f"{verb} does not take {', '.join(unknown)}", echo_args=False)
        if exclusive and exclusive in given:
            if given != {exclusive}:
                raise ProtocolError("badArgument", f"{exclusive} is an exclusive argument", echo_args=False)
        elif missing := sorted(required - given):
            raise ProtocolError("badArgument", f"{verb} needs {', '.join(missing)}", echo_args=False)
        return args

    # ------------------------------------------------------------------ verbs

    def _Identify(self, args: dict[str, str], base_url: str) -> etree._Element:
        el = etree.Element(f"{{{OAI}}}Identify")
        name = f"{self.member.name_vi} – kho dữ liệu mẫu Lienhop"
        earliest = self.records[0].datestamp if self.records else datetime(2019, 1, 1, tzinfo=UTC)
        for tag, text in (
            ("repositoryName", name),
            ("baseURL", base_url),
            ("protocolVersion", "2.0"),
            ("adminEmail", f"thuvien@{self.member.host}"),
            ("earliestDatestamp", stamp(earliest)),
            ("deletedRecord", "persistent"),
            ("granularity", "YYYY-MM-DDThh:mm:ssZ"),
        ):
            etree.SubElement(el, f"{{{OAI}}}{tag}").text = text
        description = etree.SubElement(el, f"{{{OAI}}}description")
        ident = etree.SubElement(
            description,
            f"{{{OAI_ID}}}oai-identifier",
            nsmap={None: OAI_ID},  # type: ignore[dict-item]  # None: the default namespace (lxml-stubs says str)
        )
        ident.set(
            f"{{{XSI}}}schemaLocation", f"{OAI_ID} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
        )
        for tag, text in (
            ("scheme", "oai"),
            ("repositoryIdentifier", self.member.host),
            ("delimiter", ":"),
            ("sampleIdentifier", f"oai:{self.member.host}:{self.member.code.lower()}000001"),
        ):
            etree.SubElement(ident, f"{{{OAI_ID}}}{tag}").text = text
        return el

    def _ListMetadataFormats(self, args: dict[str, str], base_url: str) -> etree._Element:
        if "identifier" in args and args["identifier"] not in self.by_id:
            raise ProtocolError("idDoesNotExist", f"no item {args['identifier']!r}")
        el = etree.Element(f"{{{OAI}}}ListMetadataFormats")
        for prefix, (schema, namespace) in FORMATS.items():
            fmt = etree.SubElement(el, f"{{{OAI}}}metadataFormat")
            etree.SubElement(fmt, f"{{{OAI}}}metadataPrefix").text = prefix
            etree.SubElement(fmt, f"{{{OAI}}}schema").text = schema
            etree.SubElement(fmt, f"{{{OAI}}}metadataNamespace").text = namespace
        return el

    def _ListSets(self, args: dict[str, str], base_url: str) -> etree._Element:
        if "resumptionToken" in args:  # the set list fits one response
            raise ProtocolError("badResumptionToken", "ListSets is never split")
        el = etree.Element(f"{{{OAI}}}ListSets")
        for spec, name in SETS.items():
            s = etree.SubElement(el, f"{{{OAI}}}set")
            etree.SubElement(s, f"{{{OAI}}}setSpec").text = spec
            etree.SubElement(s, f"{{{OAI}}}setName").text = name
        return el

    def _GetRecord(self, args: dict[str, str], base_url: str) -> etree._Element:
        prefix = self._prefix(args["metadataPrefix"])
        record = self.by_id.get(args["identifier"])
        if record is None:
            raise ProtocolError("idDoesNotExist", f"no item {args['identifier']!r}")
        el = etree.Element(f"{{{OAI}}}GetRecord")
        el.append(self._record(record, prefix))
        return el

    def _ListIdentifiers(self, args: dict[str, str], base_url: str) -> etree._Element:
        return self._list(args, headers_only=True)

    def _ListRecords(self, args: dict[str, str], base_url: str) -> etree._Element:
        return self._list(args, headers_only=False)

    # ------------------------------------------------------------------ lists

    def _list(self, args: dict[str, str], headers_only: bool) -> etree._Element:
        verb = args["verb"]
        query = (
            self._decode(args["resumptionToken"], verb) if "resumptionToken" in args else self._query(args)
        )
        matches = [r for r in self.records if self._matches(r, query)]
        if not matches:
            raise ProtocolError("noRecordsMatch", "no records match the request")
        if query.offset >= len(matches):
            raise ProtocolError("badResumptionToken", "the token points past the end of the list")
        page = matches[query.offset : query.offset + self.page_size]
        el = etree.Element(f"{{{OAI}}}{verb}")
        for record in page:
            el.append(self._header(record) if headers_only else self._record(record, query.prefix))
        following = query.offset + len(page)
        if following < len(matches) or query.offset:
            token = etree.SubElement(
                el, f"{{{OAI}}}resumptionToken", completeListSize=str(len(matches)), cursor=str(query.offset)
            )
            if following < len(matches):
                query.offset = following
                token.text = self._encode(query)
        return el

    def _query(self, args: dict[str, str]) -> _ListQuery:
        prefix = self._prefix(args["metadataPrefix"])
        start = _parse_date(args.get("from"), "from", end_of_day=False)
        end = _parse_date(args.get("until"), "until", end_of_day=True)
        if start and end:
            if bool(_DAY.match(args["from"])) != bool(_DAY.match(args["until"])):
                raise ProtocolError("badArgument", "from and until must have the same granularity", False)
            if start > end:
                raise ProtocolError("badArgument", "from is later than until", echo_args=False)
        set_spec = args.get("set")
        if set_spec is not None and set_spec not in SETS:
            raise ProtocolError("noRecordsMatch", f"no set {set_spec!r}")
        return _ListQuery(args["verb"], prefix, start, end, set_spec)

    @staticmethod
    def _matches(record: DemoRecord, query: _ListQuery) -> bool:
        if query.start and record.datestamp < query.start:
            return False
        if query.end and record.datestamp > query.end:
            return False
        if query.set_spec:
            return any(s == query.set_spec or s.startswith(query.set_spec + ":") for s in record.sets)
        return True

    @staticmethod
    def _prefix(prefix: str) -> str:
        if prefix not in FORMATS:
            raise ProtocolError(
                "cannotDisseminateFormat", f"{prefix!r} is not offered; try oai_dc or marcxml"
            )
        return prefix

    def _encode(self, query: _ListQuery) -> str:
        payload = json.dumps(
            [
                query.verb,
                query.prefix,
                stamp(query.start) if query.start else None,
                stamp(query.end) if query.end else None,
                query.set_spec,
                query.offset,
            ],
            separators=(",", ":"),
        ).encode()
        sig = hmac.new(self._key, payload, hashlib.sha256).hexdigest()[:16]
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + sig

    def _decode(self, token: str, verb: str) -> _ListQuery:
        try:
            encoded, sig = token.rsplit(".", 1)
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            good = hmac.new(self._key, payload, hashlib.sha256).hexdigest()[:16]
            if not hmac.compare_digest(sig, good):
                raise ValueError("bad signature")
            t_verb, prefix, start, end, set_spec, offset = json.loads(payload)
            if t_verb != verb or not isinstance(offset, int) or offset < 0:
                raise ValueError("token of another request")
            return _ListQuery(
                verb,
                prefix,
                datetime.fromisoformat(start) if start else None,
                datetime.fromisoformat(end) if end else None,
                set_spec,
                offset,
            )
        except (ValueError, TypeError) as exc:
            raise ProtocolError("badResumptionToken", f"the resumptionToken is not valid ({exc})") from exc

    # ------------------------------------------------------------------ records

    def _header(self, record: DemoRecord) -> etree._Element:
        header = etree.Element(f"{{{OAI}}}header")
        if record.deleted:
            header.set("status", "deleted")
        etree.SubElement(header, f"{{{OAI}}}identifier").text = record.identifier
        etree.SubElement(header, f"{{{OAI}}}datestamp").text = stamp(record.datestamp)
        for spec in record.sets:
            etree.SubElement(header, f"{{{OAI}}}setSpec").text = spec
        return header

    def _record(self, record: DemoRecord, prefix: str) -> etree._Element:
        el = etree.Element(f"{{{OAI}}}record")
        el.append(self._header(record))
        if not record.deleted:
            metadata = etree.SubElement(el, f"{{{OAI}}}metadata")
            metadata.append(
                oai_dc(record, self.opac_url(record))
                if prefix == "oai_dc"
                else marcxml(record, self.opac_url(record))
            )
        return el

    def opac_url(self, record: DemoRecord) -> str:
        return f"http://opac.{self.member.host}/record/{record.local_id}"


def _parse_date(value: str | None, name: str, end_of_day: bool) -> datetime | None:
    if value is None:
        return None
    try:
        if _SECOND.match(value):
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if _DAY.match(value):
            day = datetime.strptime(value, "%Y-%m-%d").date()
            return datetime.combine(day, time.max if end_of_day else time.min, tzinfo=UTC)
    except ValueError:
        pass
    raise ProtocolError("badArgument", f"{name}={value!r} is not a UTC datestamp", echo_args=False)


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
        repo = repository(code)
        if request.method == "POST":
            pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        else:
            pairs = parse_qsl(request.url.query, keep_blank_values=True)
        base_url = str(request.url.replace(query=""))
        body = repo.respond(pairs, base_url)
        return Response(body, media_type="text/xml; charset=utf-8")

    return router


def make_app(count: int | None = None, page_size: int = PAGE_SIZE) -> FastAPI:
    """An app serving only the demo provider (``lienhop demo`` without a running server, and tests)."""
    from ..errors import install_error_handlers

    app = FastAPI(title="Lienhop demo OAI-PMH provider")
    install_error_handlers(app)
    app.include_router(make_router(count=count, page_size=page_size))
    return app

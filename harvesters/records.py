"""OAI-PMH ``<record>`` elements to :class:`~schemas.record.Record` or to quarantine: pure, no I/O.

A record's header is read here and its metadata handed to the mapping of its format
(:mod:`.parse_dc` for ``oai_dc``, :mod:`.parse_marc` for ``marcxml``); a record that cannot be read
is quarantined with its reason and the rest of its page goes on. Matching is by local name, so the
namespace quirks real repositories show all read the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from lxml import etree

from schemas.errors import HarvestError
from schemas.record import QuarantinedItem, Record
from store.rows import RecordRow, record_row

from .oai.errors import InvalidDatestamp
from .oai.protocol import Header, page_from_response, parse_datestamp, read_response
from .parse_dc import record_from_dc
from .xml import LOCAL_NAMES, local_name, tag_local_name

ItemT = TypeVar("ItemT", Record, RecordRow)


class RecordParseError(HarvestError):
    """A record that cannot be read; it goes to quarantine with this message as its reason."""

    title = "Unreadable record"


def parse_header(header: etree._Element) -> Header:
    """The OAI ``<header>``: identifier, datestamp (UTC), deletion status and set specs."""
    identifier = None
    stamp = None
    sets: list[str] = []
    for child in header:
        tag = child.tag
        name = LOCAL_NAMES.get(tag)
        if name is None:
            name = tag_local_name(tag)
        if name == "identifier":
            identifier = (child.text or "").strip()
        elif name == "datestamp":
            try:
                stamp = parse_datestamp(child.text)
            except InvalidDatestamp as exc:
                raise RecordParseError(str(exc)) from exc
        elif name == "setSpec":
            sets.append((child.text or "").strip())
    if not identifier:
        raise RecordParseError("header without an identifier")
    return Header(identifier, stamp, header.get("status") == "deleted", tuple(sets))


def _metadata_root(metadata: etree._Element) -> etree._Element | None:
    for child in metadata:
        if isinstance(child.tag, str):
            return child
    return None


def parse_record(record: etree._Element, member: str, metadata_prefix: str = "oai_dc") -> Record:
    """One OAI ``<record>``; a deleted header gives a tombstone. Raises :class:`RecordParseError`."""
    header_el = None
    metadata = None
    for child in record:
        tag = child.tag
        name = LOCAL_NAMES.get(tag)
        if name is None:
            name = tag_local_name(tag)
        if name == "header":
            header_el = child
        elif name == "metadata":
            metadata = child
    if header_el is None:
        raise RecordParseError("record without a header")
    header = parse_header(header_el)
    if header.deleted:
        return Record(
            member=member,
            oai_identifier=header.identifier,
            datestamp=header.datestamp,
            deleted=True,
            raw_format="marcxml" if metadata_prefix == "marcxml" else "oai_dc",
        )
    root = _metadata_root(metadata) if metadata is not None else None
    if root is None:
        raise RecordParseError(f"record {header.identifier} has no metadata and is not deleted")
    if metadata_prefix == "oai_dc":
        if local_name(root) != "dc":
            raise RecordParseError(f"record {header.identifier}: expected <dc>, got <{local_name(root)}>")
        return record_from_dc(root, header, member)
    if metadata_prefix == "marcxml":
        if local_name(root) == "collection":
            inner = _metadata_root(root)
            if inner is None:
                raise RecordParseError(f"record {header.identifier}: empty MARC collection")
            root = inner
        # imported late: a harvest of oai_dc never needs pymarc (a parse worker imports it at start)
        from .parse_marc import record_from_marcxml

        return record_from_marcxml(root, member, header.identifier, header.datestamp)
    raise RecordParseError(f"metadata format {metadata_prefix!r} is not supported")


def records_from_page(
    items: Iterable[etree._Element], member: str, metadata_prefix: str = "oai_dc"
) -> tuple[list[Record], list[QuarantinedItem]]:
    """Parse a page's ``<record>`` elements; a record that fails is quarantined and the rest go on."""
    records: list[Record] = []
    bad: list[QuarantinedItem] = []
    for item in items:
        try:
            records.append(parse_record(item, member, metadata_prefix))
        except Exception as exc:  # any failure of one record must not lose the page
            bad.append(
                QuarantinedItem(
                    member=member,
                    reason=f"{type(exc).__name__}: {exc}",
                    oai_identifier=_identifier_of(item),
                    raw=etree.tostring(item, encoding="unicode", with_tail=False),
                )
            )
    return records, bad


def _identifier_of(record: etree._Element) -> str | None:
    for header in record:
        if local_name(header) == "header":
            for child in header:
                if local_name(child) == "identifier" and (child.text or "").strip():
                    return (child.text or "").strip()
    return None


@dataclass
class RecordsPage(Generic[ItemT]):
    """A ListRecords response read into records (or their rows); plain data a parse worker can send back."""

    records: list[ItemT]
    bad: list[QuarantinedItem]
    token: str | None
    complete_list_size: int | None = None
    cursor: int | None = None
    cleaned: bool = False
    nbytes: int = 0


def read_records_page(data: bytes, member: str, metadata_prefix: str = "oai_dc") -> RecordsPage[Record]:
    """A fetched ListRecords body parsed safely, interpreted and mapped to records; no I/O.

    Raises what :func:`~harvesters.oai.protocol.read_response` raises for the page as a whole (unsafe
    or malformed XML, OAI errors such as ``noRecordsMatch``); a bad record is quarantined instead.
    """
    page = page_from_response(read_response("ListRecords", data))
    records, bad = records_from_page(page.items, member, metadata_prefix)
    return RecordsPage(
        records=records,
        bad=bad,
        token=page.token,
        complete_list_size=page.complete_list_size,
        cursor=page.cursor,
        cleaned=page.cleaned,
        nbytes=page.nbytes,
    )


RowsPage = RecordsPage[RecordRow]


def read_rows_page(data: bytes, member: str, metadata_prefix: str = "oai_dc") -> RowsPage:
    """:func:`read_records_page` with the records made into the rows the store writes (a harvest's form).

    Making them (:func:`~store.rows.record_row`) is pure work a parse worker does on its core, and
    strings and tuples cross between processes at a fraction of the cost of pydantic models.
    """
    page = read_records_page(data, member, metadata_prefix)
    return RecordsPage(
        records=[record_row(rec) for rec in page.records],
        bad=page.bad,
        token=page.token,
        complete_list_size=page.complete_list_size,
        cursor=page.cursor,
        cleaned=page.cleaned,
        nbytes=page.nbytes,
    )

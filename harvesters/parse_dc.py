"""OAI-PMH ``<record>`` elements to :class:`~schemas.record.Record`: pure functions, no I/O.

Matching is by local name, so the namespace quirks real repositories show all read the same:
``oai_dc``/``dc`` declared on the OAI-PMH root or on ``<record>``, or no namespace at all.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from lxml import etree

from schemas.record import Identifiers, QuarantinedItem, Record
from store.rows import RecordRow, record_row

from .normalise import (
    classify_identifier,
    classify_repeated,
    extract_year,
    language_code,
    nfc,
    nfc_repeated,
    record_type,
)
from .oai import page_from_response, parse_datestamp, read_response
from .xml import LOCAL_NAMES, local_name, tag_local_name

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")
ItemT = TypeVar("ItemT", Record, RecordRow)
_ID_KINDS = {"isbn": "isbn", "issn": "issn", "doi": "doi", "handle": "handle", "url": "urls"}


class RecordParseError(ValueError):
    """A record that cannot be read; it goes to quarantine with this message as its reason."""


@dataclass(frozen=True)
class Header:
    identifier: str
    datestamp: datetime | None
    deleted: bool
    sets: tuple[str, ...] = ()


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
            except ValueError as exc:
                raise RecordParseError(str(exc)) from exc
        elif name == "setSpec":
            sets.append((child.text or "").strip())
    if not identifier:
        raise RecordParseError("header without an identifier")
    return Header(identifier, stamp, header.get("status") == "deleted", tuple(sets))


def _texts(values: Iterable[str | None], normal: Callable[[str], str | None] = nfc) -> list[str]:
    """The distinct non-empty normal forms of ``values`` (``normal`` is ``nfc`` or ``nfc_repeated``)."""
    out: list[str] = []
    for value in values:
        cleaned = normal(value) if value else None
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out


def dc_fields(dc: etree._Element) -> dict[str, list[str]]:
    """Every Dublin Core element's text under ``dc``, by local name, in document order."""
    fields: dict[str, list[str]] = {}
    for child in dc:
        tag = child.tag
        name = LOCAL_NAMES.get(tag)
        if name is None:
            name = tag_local_name(tag)
        if name:
            # a leaf element's text is all there is (``len`` counts comments and PIs too); only mixed
            # content needs the slower ``itertext`` walk
            text = (child.text or "") if len(child) == 0 else "".join(child.itertext())
            found = fields.get(name)
            if found is None:
                fields[name] = [text]
            else:
                found.append(text)
    return fields


def publication_year(dates: Iterable[str]) -> int | None:
    """The year of publication among ``dc:date`` values.

    DSpace lists its accession/availability timestamps (``2022-02-24T20:08:20Z``) before the issue
    date (``1984-10``), so a value that is not a full timestamp wins; a timestamp is the fallback.
    """
    fallback = None
    for value in dates:
        year = extract_year(value)
        if not year:
            continue
        if not _TIMESTAMP.match(value.strip()):
            return year
        fallback = fallback or year
    return fallback


def record_from_dc(dc: etree._Element, header: Header, member: str) -> Record:
    """A Record from an ``oai_dc:dc`` element (or a namespace-less ``<dc>``) and its header."""
    fields = dc_fields(dc)
    get = fields.get
    titles = _texts(get("title", ()))
    found_ids: dict[str, list[str]] = {}
    for source in ("identifier", "relation", "source"):
        values = get(source)
        if values is None:
            continue
        # a relation or source (the journal an article is in) recurs record after record
        classify = classify_identifier if source == "identifier" else classify_repeated
        for value in values:
            found = classify(value)
            if found is None:
                continue
            bucket = found_ids.setdefault(_ID_KINDS[found[0]], [])
            if found[1] not in bucket:
                bucket.append(found[1])
    year = publication_year(get("date", ()))
    language = None
    for value in get("language", ()):
        language = language_code(value)
        if language:
            break
    descriptions = _texts(get("description", ()))
    publishers = _texts(get("publisher", ()), nfc_repeated)
    creators = get("creator", [])
    contributors = get("contributor")
    return Record(
        member=member,
        oai_identifier=header.identifier,
        datestamp=header.datestamp,
        title=titles[0] if titles else None,
        authors=_texts(creators + contributors if contributors else creators, nfc_repeated),
        subjects=_texts(get("subject", ()), nfc_repeated),
        abstract="\n\n".join(descriptions) or None,
        publisher=publishers[0] if publishers else None,
        year=year,
        language=language,
        type=record_type(_texts(get("type", ()), nfc_repeated)),
        identifiers=Identifiers(**found_ids),
        raw_format="oai_dc",
        raw=etree.tostring(dc, encoding="unicode", with_tail=False),
    )


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
        from .parse_marc import record_from_marcxml  # written by another engineer; imported late

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
    """A ListRecords response read into records (or their rows); plain data a worker can send back."""

    records: list[ItemT]
    bad: list[QuarantinedItem]
    token: str | None
    complete_list_size: int | None = None
    cursor: int | None = None
    cleaned: bool = False
    nbytes: int = 0


def read_records_page(data: bytes, member: str, metadata_prefix: str = "oai_dc") -> RecordsPage[Record]:
    """A fetched ListRecords body parsed safely, interpreted and mapped to records; no I/O.

    Raises what :func:`~harvesters.oai.read_response` raises for the page as a whole (unsafe or
    malformed XML, OAI errors such as ``noRecordsMatch``); a bad record is quarantined instead.
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

    Making them (:func:`~store.rows.record_row`) is pure work a parsing worker does on its core, and
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


# ------------------------------------------------------------------ worker processes (runner.PageDecoder)
# A worker imports this module and what it needs, not the runner: the store (SQLAlchemy, Alembic) and
# the HTTP client would double a worker's start-up, and a worker only reads pages.


@dataclass
class WorkerOutcome:
    """What a worker sends back: the page, or the exception it raised taken apart.

    Exceptions with their own ``__init__`` (OAI errors, ``MalformedPage``) are not rebuilt faithfully
    by pickle, so the class, ``args`` and attributes travel instead (``runner._revive`` rebuilds it).
    """

    page: RowsPage | None = None
    error: tuple[type[BaseException], tuple[Any, ...], dict[str, Any]] | None = None


def decode_in_worker(data: bytes, member: str, metadata_prefix: str) -> WorkerOutcome:
    """:func:`read_rows_page` in a worker process, its exception sent back as data."""
    try:
        return WorkerOutcome(page=read_rows_page(data, member, metadata_prefix))
    except Exception as exc:  # re-raised in the harvest process, as if parsed there
        return WorkerOutcome(error=(type(exc), exc.args, dict(vars(exc))))


#: How much lower a parse worker's scheduling priority is than the harvesting process's (``nice``).
WORKER_NICENESS = 5


def start_worker() -> None:
    """A worker's initializer: end with the harvesting process and yield the CPU to it, import the
    parsers (the MARC one is otherwise imported lazily by :func:`parse_record`), then leave all that
    is imported out of the cyclic collector's full passes, which would walk it again and again for
    nothing (a worker's modules live as long as it does).

    With a worker per core, a harvest keeps every core busy; at a lower priority its workers leave
    the harvesting process and, under ``lienhop serve``, searches the CPU they need. Measured with a
    60,000-record MARCXML harvest running behind the API on 2 cores: search p90/p99 16/26 ms against
    23-34/35-52 ms at the same priority, the harvest's own speed unchanged.
    """
    _end_with_parent()
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    from . import parse_marc  # noqa: F401

    gc.freeze()


def _end_with_parent() -> None:
    """Exit when the process that started this worker is gone, however it ended.

    A worker waits for pages on a queue it holds both ends of, so a harvest killed outright (SIGKILL,
    the out-of-memory killer) would otherwise leave its workers waiting for ever, about 100 MB each.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def worker_ready() -> None:
    """Runs in a worker once :func:`start_worker` is done: the harvest waits for it."""

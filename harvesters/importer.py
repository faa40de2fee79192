"""Import a member's MARC21 file (ISO 2709 binary or MARCXML) into the record store.

The format is recognised from the content, not the file name. Binary files are split record by
record here rather than by pymarc, so that each record's byte offset is known: a truncated or
corrupt record is quarantined with its offset and reason while the good records around it are
imported. XML is read incrementally with the same hardening as :mod:`harvesters.xml` (no entities, no
DTD, no network), after the whole file has been checked by :func:`harvesters.xml.check_safe_stream`.

Identity: an imported record's OAI identifier is ``marc:<003>:<001>`` (or ``marc:content-<hash>``
without a 001), so importing the same file again changes nothing. A second record with the same
control number is skipped when identical and quarantined when it differs: the store holds one record
per identifier, and silently keeping either would hide a cataloguing error.

Reading and parsing run in a thread, ``batch`` records at a time, so memory stays bounded whatever
the file's size and the event loop (a server answering searches) is not stalled; the store commits
(which do await) happen every ``batch`` records.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import itertools
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

from lxml import etree

from schemas.errors import LienhopError, MarcImportError, UnsafeXML
from schemas.member import RunReport
from schemas.progress import NullProgress, ProgressSink
from schemas.record import QuarantinedItem, Record
from store.front import RecordStore
from store.rows import RecordRow, record_row

from .marc_io import MARC_NS, decode_iso2709, pymarc_from_marcxml
from .parse_marc import record_from_marc
from .xml import DoctypeScanner, check_safe_stream, clean_xml_text, declared_encoding, local_name

__all__ = ["detect_format", "import_file", "iter_iso2709"]

_TERMINATOR = 0x1D
_BLOCK = 1 << 20
_SEPARATORS = b" \t\r\n\x00\x1a"  # what exporters put between records (newlines, padding, DOS EOF)
_MAX_RECORD = 1 << 20  # a chunk without a terminator is cut here: ISO 2709 allows 99,999 bytes
_MAX_RAW = 100_000  # characters of a bad record kept in quarantine


# ------------------------------------------------------------------------------------ sniffing


def detect_format(head: bytes) -> str:
    """``"iso2709"`` or ``"marcxml"`` from a file's first bytes; :class:`MarcImportError` otherwise."""
    text = head.lstrip(b"\xef\xbb\xbf" + _SEPARATORS)
    if not text:
        raise MarcImportError("the file is empty")
    if text.startswith(b"<"):
        return "marcxml"
    if text[:5].isdigit():
        return "iso2709"
    if text.startswith((b"=LDR", b"=000")):
        raise MarcImportError(
            "this is MARCMaker text (.mrk), not MARC21: export the records as MARC21 (.mrc) or MARCXML"
        )
    if text.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise MarcImportError("UTF-16 files are not supported: export the records as UTF-8 MARCXML or MARC21")
    preview = text[:16].decode("ascii", "backslashreplace")
    raise MarcImportError(
        f"not a MARC21 (ISO 2709) or MARCXML file: it starts with {preview!r} instead of a record length"
    )


# ------------------------------------------------------------------------------ binary splitting


@dataclass(frozen=True)
class Chunk:
    """One record's bytes as found in the file."""

    offset: int
    data: bytes
    terminated: bool


def iter_iso2709(stream: BinaryIO) -> Iterator[Chunk]:
    """Split an ISO 2709 stream into records, keeping each one's byte offset.

    The leader's record length is trusted when the byte it points at is the record terminator (0x1D);
    otherwise the record runs to the next terminator, which recovers from wrong lengths (including
    records longer than 99,999 bytes). Separators between records (newlines, NULs) are skipped. A last
    chunk that ends without a terminator is yielded with ``terminated=False``.
    """
    buf = bytearray()
    pos = 0
    base = 0  # file offset of buf[0]
    eof = False

    def fill(needed: int) -> bool:
        """Read until ``needed`` bytes are available from ``pos`` (False at end of file)."""
        nonlocal eof
        while len(buf) - pos < needed and not eof:
            block = stream.read(_BLOCK)
            if block:
                buf.extend(block)
            else:
                eof = True
        return len(buf) - pos >= needed

    while True:
        if pos > _BLOCK:  # drop consumed bytes; only between records, so indices stay valid below
            del buf[:pos]
            base += pos
            pos = 0
        while fill(1) and buf[pos] in _SEPARATORS:
            pos += 1
        if not fill(1):
            return
        offset = base + pos
        fill(5)
        head = bytes(buf[pos : pos + 5])
        length = int(head) if head.isdigit() else 0
        if length >= 24 and fill(length) and buf[pos + length - 1] == _TERMINATOR:
            yield Chunk(offset, bytes(buf[pos : pos + length]), True)
            pos += length
            continue
        search = pos
        while True:
            end = buf.find(_TERMINATOR, search, pos + _MAX_RECORD)
            if end != -1 or len(buf) - pos >= _MAX_RECORD:
                break
            search = len(buf)
            if not fill(len(buf) - pos + 1):
                break
        if end == -1:
            stop = min(len(buf), pos + _MAX_RECORD)
            yield Chunk(offset, bytes(buf[pos:stop]), False)
            pos = stop
        else:
            yield Chunk(offset, bytes(buf[pos : end + 1]), True)
            pos = end + 1


def _raw_text(data: bytes) -> str:
    """Bad bytes kept readable for the quarantine (NULs escaped: PostgreSQL text refuses them)."""
    return data[:_MAX_RAW].decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


def _truncation_reason(chunk: Chunk) -> str:
    head = chunk.data[:5]
    if head.isdigit() and int(head) > len(chunk.data):
        return (
            f"truncated record: the leader announces {int(head)} bytes but the file ends after "
            f"{len(chunk.data)}"
        )
    return f"{len(chunk.data)} bytes of data without a record terminator (0x1D) at the end of the file"


def _iter_binary(stream: BinaryIO, member: str) -> Iterator[tuple[Record | QuarantinedItem, int | str]]:
    for chunk in iter_iso2709(stream):
        where = f"byte {chunk.offset}"
        try:
            if not chunk.terminated:
                raise MarcImportError(_truncation_reason(chunk))
            record = record_from_marc(decode_iso2709(chunk.data), member, "marc21")
        except LienhopError as exc:
            yield (
                QuarantinedItem(
                    member=member,
                    reason=f"record at {where}: {exc.detail}",
                    offset=chunk.offset,
                    raw=_raw_text(chunk.data),
                ),
                where,
            )
        else:
            yield record, where


# ------------------------------------------------------------------------------------------ XML


def _control_number(element: etree._Element) -> str | None:
    """ "003:001" read straight from the XML, to name a record that could not be converted."""
    values = {}
    for child in element:
        if isinstance(child.tag, str) and local_name(child) == "controlfield":
            values[child.get("tag")] = (child.text or "").strip()
    if not values.get("001"):
        return None
    return f"{values['003']}:{values['001']}" if values.get("003") else values["001"]


def _iter_xml(
    stream: BinaryIO, member: str, path: Path
) -> Iterator[tuple[Record | QuarantinedItem, int | str]]:
    try:
        yield from _iter_xml_records(stream, member, skip=0)
    except etree.XMLSyntaxError as exc:
        error = exc
    else:
        return
    # Real exports carry bytes that are not UTF-8 or characters XML 1.0 forbids. Like the harvester
    # (harvesters.xml.parse_xml), clean them (as the file streams by, so memory stays bounded) and
    # read on from the record where parsing stopped. The records read before the error are kept.
    try:
        with path.open("rb") as raw:
            yield from _iter_xml_records(_CleanedStream(raw), member, skip=error_records(error))
    except etree.XMLSyntaxError as exc:
        number = max(error_records(exc), error_records(error))
        yield (
            QuarantinedItem(
                member=member,
                reason=f"XML not well-formed after {number} records ({exc}); the rest was not read",
                raw=str(exc),
            ),
            f"line {exc.lineno}",
        )


class _CleanedStream:
    """A file read as :func:`~harvesters.xml.clean_xml_bytes` would re-encode it, a block at a time,
    and checked for DTDs as it goes (cleaning could join ``<!DOC\\x01TYPE`` into a declaration)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        encoding = declared_encoding(stream.read(200))
        stream.seek(0)
        try:
            codecs.lookup(encoding)
        except LookupError:  # an encoding name Python does not know: treat as UTF-8
            encoding = "utf-8"
        self._encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._held = ""  # the end of a block that may be the start of a character reference
        self._first = True
        self._scanner = DoctypeScanner()

    def read(self, _size: int = -1) -> bytes:
        raw = self._stream.read(_BLOCK)
        text = self._held + self._decoder.decode(raw, final=not raw)
        self._held = ""
        if self._first:
            text, self._first = text.removeprefix("\ufeff"), False
        amp = text.rfind("&")
        if raw and amp >= 0 and ";" not in text[amp:] and len(text) - amp < 16:
            text, self._held = text[:amp], text[amp:]
        cleaned = clean_xml_text(text).encode(self._encoding, errors="xmlcharrefreplace")
        self._scanner.feed(cleaned)
        return cleaned


def error_records(error: etree.XMLSyntaxError) -> int:
    """How many records were read before ``error`` (attached by ``_iter_xml_records``)."""
    return int(getattr(error, "lienhop_records", 0))


_FEED = 64 * 1024  # bytes handed to the XML parser at a time


def _iter_xml_records(
    stream: BinaryIO | _CleanedStream, member: str, skip: int
) -> Iterator[tuple[Record | QuarantinedItem, int | str]]:
    """MARC records of an XML stream; the first ``skip`` were already read by an earlier pass.

    A pull parser fed block by block: the records completed before a fatal error are still handed
    out (``iterparse`` raised the error first and lost them), then the error is raised.
    """
    tags = (f"{{{MARC_NS}}}record", "record")
    parser = etree.XMLPullParser(
        events=("end",),
        tag=tags,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=False,
    )
    number = 0

    def records() -> Iterator[tuple[Record | QuarantinedItem, int | str]]:
        nonlocal number
        for _event, found in parser.read_events():
            element = cast(etree._Element, found)  # "end" events carry elements
            if not any(
                isinstance(c.tag, str) and local_name(c) in ("leader", "controlfield", "datafield")
                for c in element
            ):
                continue  # an enclosing non-MARC <record> (an OAI-PMH envelope without namespaces)
            number += 1
            if number > skip:
                yield _xml_item(element, member, f"record {number} (line {element.sourceline})")
            element.clear(keep_tail=True)  # type: ignore[call-arg]  # lxml has it; its stubs lack it
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]  # records already read are not kept in memory

    try:
        while True:
            block = stream.read(_FEED)
            if not block:
                parser.close()
                yield from records()
                return
            parser.feed(block)
            yield from records()
    except etree.XMLSyntaxError as exc:
        yield from records()  # what was complete before the error
        exc.lienhop_records = number  # type: ignore[attr-defined]
        raise


def _xml_item(element: etree._Element, member: str, where: str) -> tuple[Record | QuarantinedItem, str]:
    try:
        return record_from_marc(pymarc_from_marcxml(element), member, "marcxml"), where
    except LienhopError as exc:
        control = _control_number(element)
        item = QuarantinedItem(
            member=member,
            reason=f"{where}: {exc.detail}",
            oai_identifier=f"marc:{control}" if control else None,
            raw=etree.tostring(element, encoding="unicode", with_tail=False)[:_MAX_RAW],
        )
        return item, where


# --------------------------------------------------------------------------------------- import


class _CountingReader:
    """A read-only file wrapper counting the bytes read, for byte-based progress."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        return data


async def import_file(
    store: RecordStore,
    member: str,
    path: Path,
    progress: ProgressSink | None = None,
    on_commit: Callable[[], Awaitable[None]] | None = None,
    batch: int = 500,
) -> RunReport:
    """Import one MARC21 or MARCXML file for ``member`` and return the run's report.

    Good records are upserted ``batch`` at a time (idempotent: re-importing the same file counts
    everything as unchanged); unreadable ones are quarantined with their reason and byte offset (or
    record number and line for XML). ``on_commit`` is awaited after every committed batch (the
    indexer hooks in there); ``progress`` gets the file name as task and the file size in bytes as
    total. Raises :class:`~schemas.errors.NotFound` for an unknown member and
    :class:`~schemas.errors.MarcImportError` for a file that cannot be read or is not MARC at all.
    """
    code = (await store.get_member(member)).code
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as probe:
            head = probe.read(65536)
    except OSError as exc:
        raise MarcImportError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    if path.is_dir():
        raise MarcImportError(f"{path.name} is a folder, not a MARC file")
    kind = detect_format(head)
    if kind == "marcxml":
        try:
            await asyncio.to_thread(_check_whole_file, path)
        except UnsafeXML as exc:
            raise MarcImportError(f"{path.name}: {exc.detail}") from exc

    sink = progress or NullProgress()
    task = path.name
    batch = max(1, batch)
    run = await store.start_run(code, "import", {"file": path.name})
    assert run.id is not None
    sink.begin(task, total=size)
    records: list[RecordRow] = []
    quarantined: list[QuarantinedItem] = []
    seen: dict[str, tuple[str, str]] = {}  # oai identifier -> (content hash, where first seen)
    reported = 0
    read = 0
    items_read = 0

    async def flush() -> None:
        nonlocal reported
        if records or quarantined:
            await store.commit_rows(code, run.id, records, quarantined)
            records.clear()
            quarantined.clear()
            if on_commit is not None:
                await on_commit()
        if reported < read:
            sink.advance(task, read - reported)
            reported = read

    # Reading and parsing run in a thread of their own (lxml wants one thread per parser), a batch at
    # a time, so a big file does not stall the event loop; only the store commits happen on it.
    reader = ThreadPoolExecutor(1, thread_name_prefix="lienhop-import")
    loop = asyncio.get_running_loop()
    try:
        with path.open("rb") as raw_stream:
            stream = _CountingReader(raw_stream)
            items = _iter_binary(stream, code) if kind == "iso2709" else _iter_xml(stream, code, path)  # type: ignore[arg-type]

            def pull() -> list[tuple[Record | QuarantinedItem, RecordRow | None, int | str]]:
                return [
                    (item, record_row(item) if isinstance(item, Record) else None, where)
                    for item, where in itertools.islice(items, batch)
                ]

            while pulled := await loop.run_in_executor(reader, pull):
                for item, row, where in pulled:
                    items_read += 1
                    if isinstance(item, Record):
                        assert row is not None
                        first = seen.get(item.oai_identifier)
                        if first is None:
                            seen[item.oai_identifier] = (row.digest, str(where))
                            records.append(row)
                        elif first[0] != row.digest:
                            quarantined.append(_duplicate(item, first[1], str(where)))
                        # an identical repeat changes nothing and is skipped
                    else:
                        quarantined.append(item)
                if len(records) + len(quarantined) >= batch:
                    read = stream.count
                    await flush()
            read = size
            await flush()
        if items_read == 0:
            raise MarcImportError(f"{path.name} holds no MARCXML records")
    except BaseException as exc:
        message = exc.detail if isinstance(exc, LienhopError) else f"{type(exc).__name__}: {exc}"
        await store.finish_run(run.id, ok=False, error=message)
        sink.end(task, ok=False, message=message)
        raise
    finally:
        reader.shutdown(wait=False)
    report = await store.finish_run(run.id, ok=True)
    sink.end(
        task,
        ok=True,
        message=(
            f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
            f"{report.quarantined} quarantined"
        ),
    )
    return report


def _check_whole_file(path: Path) -> None:
    with path.open("rb") as stream:
        check_safe_stream(stream)


def _duplicate(record: Record, first: str, where: str) -> QuarantinedItem:
    digest = hashlib.blake2b(record.raw.encode(), digest_size=8).hexdigest()
    return QuarantinedItem(
        member=record.member,
        reason=(
            f"{where}: duplicate control number {record.oai_identifier} (first at {first}) with different "
            "content; not imported"
        ),
        offset=int(where.removeprefix("byte ")) if where.startswith("byte ") else None,
        raw=record.raw[:_MAX_RAW] or digest,
    )

"""The one hardened XML parser for everything Lienhop harvests.

Harvested XML comes from servers we do not control, so the parser never resolves entities, never
loads a DTD, never touches the network and keeps libxml2's size limits. A document that declares a
DOCTYPE with an internal subset, entity declarations or an external identifier is refused before it
reaches libxml2 at all (:class:`~schemas.errors.UnsafeXML`): OAI-PMH has no use for a DTD, and refusing
is safer than hoping nothing gets expanded.

Real repositories (DSpace among them) emit characters that XML 1.0 forbids (``\\x0b``, ``\\x1b``) and
bytes that are not UTF-8. :func:`parse_xml` cleans such a page and parses it again, and says it did.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import BinaryIO

from lxml import etree

from schemas.errors import HarvestError, UnsafeXML

_local = threading.local()

# Characters XML 1.0 allows; everything else is dropped by ``clean_xml_text``.
_ILLEGAL_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Character references to code points XML 1.0 forbids (``&#27;``, ``&#x1B;``): as fatal as the raw byte.
_ILLEGAL_REFS = re.compile(
    r"&#(?:0*(?:[0-8]|1[1-2]|1[4-9]|2\d|3[01])|[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF]));"
)
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_DANGEROUS_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*?(\[|\bSYSTEM\b|\bPUBLIC\b)|<!ENTITY", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


class MalformedXML(HarvestError):
    """A response that is not well-formed XML, even after cleaning illegal characters."""

    title = "Malformed XML"


@dataclass(frozen=True)
class ParsedXML:
    """A parsed document and whether it had to be cleaned of illegal characters first."""

    root: etree._Element
    cleaned: bool = False


def make_parser() -> etree.XMLParser:
    """A new hardened parser (no entities, no DTD, no network, libxml2 size limits kept)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=False,
        remove_comments=False,
        remove_pis=False,
    )


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads; one per thread is cheap and reused.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = make_parser()
    return parser


def check_safe(data: bytes) -> None:
    """Refuse a document whose prolog declares entities, an internal DTD subset or an external DTD."""
    head = data
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:4] in (b"\x00<\x00?", b"<\x00?\x00"):
        # UTF-16: look at the prolog with the zero bytes removed
        head = head.replace(b"\x00", b"")
    start = _doctype_at(head)
    if start < 0:
        return
    if _DANGEROUS_DOCTYPE.search(head, start):
        raise UnsafeXML("document declares a DTD with entities or an external identifier; refused")


class DoctypeScanner:
    """:func:`check_safe` over a document read in pieces (a MARCXML file of any size), so the whole
    document is checked, not its first bytes: each piece is searched together with the end of the
    previous one, long enough to hold a declaration that straddles the two."""

    _CARRY = 4096  # bytes of a DOCTYPE declaration looked at for a subset or an external identifier

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, piece: bytes) -> None:
        """Check the next piece; :class:`UnsafeXML` when a dangerous declaration is seen."""
        window = self._tail + piece
        start = _doctype_at(window)
        while start >= 0:
            declaration = window[start : start + self._CARRY]
            end = declaration.find(b">")
            if end < 0 and len(window) - start >= self._CARRY:
                raise UnsafeXML("document declares a DOCTYPE too long to check; refused")
            if end >= 0 and _DANGEROUS_DOCTYPE.search(declaration[: end + 1]):
                raise UnsafeXML("document declares a DTD with entities or an external identifier; refused")
            if end < 0:
                break  # the rest arrives with the next piece
            start = _doctype_at(window, start + 2)
        if _ENTITY.search(window):
            raise UnsafeXML("document declares entities; refused")
        self._tail = window[-(self._CARRY + 16) :]


def check_safe_stream(stream: BinaryIO, block: int = 1 << 20) -> None:
    """:func:`check_safe` over a whole stream read ``block`` bytes at a time (memory stays bounded)."""
    scanner = DoctypeScanner()
    while piece := stream.read(block):
        scanner.feed(piece)
    scanner.feed(b">")  # a declaration cut by the end of the file is judged as far as it goes


def _doctype_at(data: bytes, start: int = 0) -> int:
    """Where ``<!DOCTYPE`` (in any case) first occurs in ``data``, or -1.

    What ``_DOCTYPE.search`` answers, without running a case-insensitive regex over every byte of a
    page: ``bytes.find`` skips to each ``<!`` (comments and CDATA only, in a normal page), and the
    seven bytes after it are compared. The regex was a tenth of the cost of reading a record.
    """
    at = data.find(b"<!", start)
    while at >= 0:
        if data[at + 2 : at + 9].upper() == b"DOCTYPE":
            return at
        at = data.find(b"<!", at + 2)
    return -1


def _check_docinfo(root: etree._Element) -> None:
    """Second line of defence after parsing: no DTD of any use may have slipped through."""
    docinfo = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    # lxml-stubs lacks DocInfo.system_url and DTD.entities()/elements(), which lxml has (since 2.x/3.x)
    system_url = docinfo.system_url  # type: ignore[attr-defined]
    declares = dtd is not None and bool(dtd.entities() or dtd.elements())  # type: ignore[attr-defined]
    if system_url or docinfo.public_id or declares:
        raise UnsafeXML("document declares a DTD; refused")


def declared_encoding(data: bytes) -> str:
    """The encoding named in the XML declaration, UTF-8 when none (or a BOM says UTF-8)."""
    match = _DECLARED_ENCODING.match(data[:200].lstrip(b"\xef\xbb\xbf"))
    return match.group(1).decode("ascii") if match else "utf-8"


def clean_xml_text(text: str) -> str:
    """``text`` without the characters and character references XML 1.0 forbids."""
    if text.isprintable() and "&#" not in text:
        # what the regexes would find is unprintable (C0 controls, surrogates, U+FFFE/U+FFFF) or a
        # character reference: one C loop and a find tell that there is nothing to remove, where the
        # regexes test every character (MARC records' text, cleaned each time, is mostly clean)
        return text
    return _ILLEGAL_REFS.sub("", _ILLEGAL_CHARS.sub("", text))


def clean_xml_bytes(data: bytes) -> bytes:
    """The document re-encoded without illegal characters; undecodable bytes become U+FFFD."""
    encoding = declared_encoding(data)
    try:
        text = data.decode(encoding, errors="replace")
    except LookupError:  # an encoding name Python does not know: treat as UTF-8
        encoding = "utf-8"
        text = data.decode(encoding, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return clean_xml_text(text).encode(encoding, errors="xmlcharrefreplace")


def parse_xml(data: bytes) -> ParsedXML:
    """Parse harvested bytes safely; a page broken only by illegal characters is cleaned and parsed again.

    Raises :class:`~schemas.errors.UnsafeXML` for DTD/entity payloads and :class:`MalformedXML` for a
    document that does not parse even after cleaning.
    """
    check_safe(data)
    try:
        root = etree.fromstring(data, _parser())
        cleaned = False
    except etree.XMLSyntaxError as first:
        fixed = clean_xml_bytes(data)
        if fixed == data:
            raise MalformedXML(f"not well-formed XML: {first}") from first
        check_safe(fixed)
        try:
            root = etree.fromstring(fixed, _parser())
        except etree.XMLSyntaxError as second:
            raise MalformedXML(f"not well-formed XML even after cleaning: {second}") from second
        cleaned = True
    _check_docinfo(root)
    return ParsedXML(root=root, cleaned=cleaned)


def local_name(element: etree._Element) -> str:
    """The tag without its namespace (``{ns}title`` -> ``title``); '' for comments and PIs."""
    tag = element.tag
    name = LOCAL_NAMES.get(tag)
    return name if name is not None else tag_local_name(tag)


# Local name by tag. A harvested page repeats the same few dozen tags thousands of times, and a dict
# lookup costs less than splitting the tag again; loops over every element of a page look tags up
# here directly (``LOCAL_NAMES.get(child.tag)``, then :func:`tag_local_name` when missing).
LOCAL_NAMES: dict[object, str] = {}
_LOCAL_NAMES_MAX = 4096  # a repository inventing endless tag names must not grow it without bound


def tag_local_name(tag: object) -> str:
    """:func:`local_name` of an element's ``tag`` (a string, or a function for comments and PIs)."""
    name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
    if len(LOCAL_NAMES) < _LOCAL_NAMES_MAX:
        LOCAL_NAMES[tag] = name
    return name

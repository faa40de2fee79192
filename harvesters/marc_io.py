"""MARC21 records in and out: ISO 2709 and MARCXML decoded to pymarc records, and a record written
back as the MARCXML the store keeps as its ``raw`` (Unicode, leader/09 = "a"), whatever it came as.

Decoding is strict where pymarc is lenient (tags, subfield codes, encodings), so a broken record is
refused with a reason (:class:`~schemas.errors.MarcImportError`) instead of being mapped half-read.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
import warnings
from collections.abc import Iterable
from xml.etree import ElementTree

import pymarc
from lxml import etree
from pymarc import Field, Leader, Subfield
from pymarc.marcxml import MARC_XML_NS, MARC_XML_SCHEMA, XSI_NS, record_to_xml_node

from schemas.errors import MarcImportError

from .xml import LOCAL_NAMES, clean_xml_text, local_name, tag_local_name

MARC_NS = "http://www.loc.gov/MARC21/slim"
_DEFAULT_LEADER = "     nam a22     uu 4500"

__all__ = ["MARC_NS", "decode_iso2709", "find_marc_record", "pymarc_from_marcxml", "raw_marcxml"]


# ------------------------------------------------------------------------------------- decoding


def _has_utf8_multibyte(data: bytes) -> bool:
    """True when ``data`` holds at least one well-formed multi-byte UTF-8 sequence."""
    return (
        re.search(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}", data)
        is not None
    )


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_iso2709(chunk: bytes) -> pymarc.Record:
    """One ISO 2709 record (leader to 0x1D) as a Unicode pymarc record.

    The encoding flag (leader/09) is checked against the bytes, because catalogues lie about it:

    * flag blank (MARC-8) but the bytes are well-formed UTF-8 with multi-byte characters: UTF-8
      (MARC-8 diacritics are single bytes 0xE0-0xFE followed by ASCII, never valid UTF-8);
    * flag "a" (UTF-8) but the bytes are not UTF-8: when no well-formed multi-byte sequence occurs at
      all the record is MARC-8 mislabelled and is read as MARC-8; otherwise it is UTF-8 with a few bad
      bytes, which become U+FFFD rather than losing the record.

    Raises :class:`MarcImportError` with a readable reason when the structure is broken.
    """
    if len(chunk) < 24:
        raise MarcImportError(f"record of {len(chunk)} bytes is shorter than a leader (24 bytes)")
    flag = chunk[9:10]
    force_utf8 = False
    utf8_handling = "strict"
    if flag == b"a":
        if not _is_utf8(chunk):
            if _has_utf8_multibyte(chunk):
                utf8_handling = "replace"
            else:
                chunk = chunk[:9] + b" " + chunk[10:]
    elif _has_utf8_multibyte(chunk) and _is_utf8(chunk):
        force_utf8 = True
    try:
        with warnings.catch_warnings():
            # pymarc warns about odd subfield codes; the record is still usable, and tests run with
            # warnings as errors.
            warnings.simplefilter("ignore")
            record = pymarc.Record(
                data=chunk,
                to_unicode=True,
                force_utf8=force_utf8,
                hide_utf8_warnings=True,
                utf8_handling=utf8_handling,
            )
    except UnicodeDecodeError as exc:
        raise MarcImportError(
            f"undecodable bytes in the leader, directory or indicators: {exc.reason}"
        ) from exc
    except ValueError as exc:  # int() of a non-numeric length, offset or base address
        raise MarcImportError(f"malformed leader or directory: {exc}") from exc
    except pymarc.exceptions.PymarcException as exc:
        raise MarcImportError(f"{_PYMARC_REASONS.get(type(exc).__name__, '')}{exc}") from exc
    except IndexError as exc:
        raise MarcImportError(f"malformed record structure: {exc}") from exc
    if not record.fields:
        raise MarcImportError("record has no fields")
    if force_utf8 or utf8_handling != "strict":
        record.leader = Leader(str(record.leader)[:9] + "a" + str(record.leader)[10:])
    return record


_PYMARC_REASONS = {
    "TruncatedRecord": "truncated record: ",
    "BaseAddressInvalid": "broken leader: ",
    "BaseAddressNotFound": "broken leader: ",
    "RecordLeaderInvalid": "broken leader: ",
    "RecordDirectoryInvalid": "broken directory: ",
    "NoFieldsFound": "empty record: ",
    "EndOfRecordNotFound": "truncated record: ",
}


_TAG = re.compile(r"^[0-9A-Za-z]{3}$")


def _marc_children(element: etree._Element) -> Iterable[etree._Element]:
    for child in element:
        if isinstance(child.tag, str):
            yield child


def pymarc_from_marcxml(element: etree._Element, strict: bool = True) -> pymarc.Record:
    """A MARCXML ``<record>`` (MARC namespace, ``marc:`` prefix or no namespace) as a pymarc record.

    Stricter than pymarc's own reader on purpose: a tag that is not three letters/digits or a
    subfield without a one-character code makes the record invalid (:class:`MarcImportError`), so it
    is quarantined instead of being stored half-read. A missing leader (repository-generated MARC)
    gets a neutral one; a leader of the wrong length is padded or cut to 24 characters.
    ``strict=False`` lets such tags and codes through and keeps the leader as it is, as the ISO 2709
    reader does: for the MARCXML the store kept of a record imported from ISO 2709.
    """
    leader = _DEFAULT_LEADER
    fields: list[Field] = []
    # the loops below inline ``_marc_children`` and ``local_name``: they run for every field and
    # subfield of every harvested MARC record
    for child in element:
        element_tag = child.tag
        name = LOCAL_NAMES.get(element_tag)
        if name is None:
            name = tag_local_name(element_tag)
        if not name:  # comments, processing instructions
            continue
        if name == "leader":
            text = (child.text or "").replace("\n", " ")
            leader = (text + " " * 24)[:24] if text.strip() else _DEFAULT_LEADER
        elif name == "controlfield":
            tag = (child.get("tag") or "").strip()
            if strict and not _TAG.match(tag):
                raise MarcImportError(f"control field with invalid tag {tag!r}")
            if tag.startswith("00") and tag.isdigit():
                fields.append(Field(tag=tag, data=child.text or ""))
            # non-numeric control fields (Aleph "FMT", "LDR"...) carry no bibliographic data
        elif name == "datafield":
            tag = (child.get("tag") or "").strip()
            if strict and not _TAG.match(tag):
                raise MarcImportError(f"data field with invalid tag {tag!r}")
            if strict:
                ind1 = (child.get("ind1") or " ")[:1] or " "
                ind2 = (child.get("ind2") or " ")[:1] or " "
            else:  # an indicator the ISO 2709 reader left empty stays empty
                ind1, ind2 = child.get("ind1", " ")[:1], child.get("ind2", " ")[:1]
            subfields = []
            for sub in child:
                sub_tag = sub.tag
                sub_name = LOCAL_NAMES.get(sub_tag)
                if sub_name is None:
                    sub_name = tag_local_name(sub_tag)
                if sub_name != "subfield":
                    continue
                code = sub.get("code") or ""
                if strict and (len(code) != 1 or not "!" <= code <= "~"):  # one printable ASCII character
                    raise MarcImportError(f"field {tag} has a subfield with invalid code {code!r}")
                subfields.append(Subfield(code, sub.text or ""))
            # a plain pair: ``Field`` makes its ``Indicators`` of it (given one, it would copy it)
            # (pymarc annotates ``indicators`` as ``Indicators`` but takes any pair, see above)
            fields.append(Field(tag, (ind1, ind2), subfields))  # type: ignore[arg-type]
    if not fields:
        raise MarcImportError("MARCXML record has no fields")
    record = pymarc.Record(fields=fields, leader=leader)
    if not strict:
        # pymarc's constructor writes "22" and "4500" into the leader; the ISO 2709 reader keeps it
        record.leader = Leader(leader)
    return record


_RECORD_TAGS = (f"{{{MARC_NS}}}record", "record")


def find_marc_record(root: etree._Element) -> etree._Element | None:
    """The first MARC ``<record>`` at or under ``root`` (MARC namespace or none, e.g. in OAI metadata)."""
    # lazily: ``root`` itself is the record in a harvested page, and its fields need not be visited
    candidates = itertools.chain((root,), root.iterdescendants())
    for element in candidates:
        tag = element.tag
        if not isinstance(tag, str):
            continue
        if tag in _RECORD_TAGS and any(
            local_name(c) in ("leader", "controlfield", "datafield") for c in _marc_children(element)
        ):
            return element
    return None


# ------------------------------------------------------------------------------------- writing


_RECORD_OPEN = f'<record xmlns="{MARC_XML_NS}" xmlns:xsi="{XSI_NS}" xsi:schemaLocation="{MARC_XML_SCHEMA}">'
# Attribute values ElementTree would escape; such (rare) records take the ElementTree path.
_ATTRIBUTE_SPECIAL = re.compile('[&<>"\r\n\t]')
# Subfield codes written as they are (printable ASCII but those), checked without the regex.
_PLAIN_CODES = frozenset(chr(c) for c in range(0x21, 0x7F)) - set('&<>"')


def _escape_text(text: str) -> str:
    """Character data escaped as ElementTree escapes it (``&``, ``<``, ``>`` only)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _element(parts: list[str], tag: str, attributes: str, text: str) -> None:
    # ElementTree writes an element without text as "<tag />"
    if text:
        parts.append(f"<{tag}{attributes}>{_escape_text(text)}</{tag}>")
    else:
        parts.append(f"<{tag}{attributes} />")


def _marcxml_text(record: pymarc.Record, leader: str) -> str | None:
    """``ElementTree.tostring(record_to_xml_node(record, namespace=True), encoding="unicode")`` with
    ``leader`` as the leader, character for character, written directly.

    pymarc builds an ElementTree and the pure-Python serialiser walks it: that was 40% of the time
    spent mapping a harvested MARCXML record. ``None`` for anything out of the ordinary (values that
    are not ``str``, attribute values that need escaping, malformed fields): the caller then takes
    the ElementTree path, which behaves as it always did.
    """
    parts = [_RECORD_OPEN]
    _element(parts, "leader", "", leader)
    try:
        for field in record.fields:
            tag = field.tag
            if type(tag) is not str or _ATTRIBUTE_SPECIAL.search(tag):
                return None
            if field.control_field:
                data = field.data
                if type(data) is not str:  # MARC-8 bytes: pymarc translates them
                    return None
                _element(parts, "controlfield", f' tag="{tag}"', data)
                continue
            indicators = field.indicators
            if indicators is None:  # a data field without any: let pymarc write it
                return None
            ind1, ind2 = indicators.first, indicators.second
            if type(ind1) is not str or type(ind2) is not str or _ATTRIBUTE_SPECIAL.search(ind1 + ind2):
                return None
            opening = f'<datafield ind1="{ind1}" ind2="{ind2}" tag="{tag}"'
            if not field.subfields:
                parts.append(opening + " />")
                continue
            parts.append(opening + ">")
            # inlined ``_element``: this runs for every subfield of every record
            for code, value in field.subfields:
                if type(value) is not str:
                    return None
                if code not in _PLAIN_CODES and (type(code) is not str or _ATTRIBUTE_SPECIAL.search(code)):
                    return None
                if not value:
                    parts.append(f'<subfield code="{code}" />')
                    continue
                if "&" in value or "<" in value or ">" in value:
                    value = _escape_text(value)
                parts.append(f'<subfield code="{code}">{value}</subfield>')
            parts.append("</datafield>")
    except (AttributeError, TypeError, ValueError):
        return None
    parts.append("</record>")
    return "".join(parts)


def raw_marcxml(record: pymarc.Record, from_xml: bool = False) -> str:
    """MARCXML of the record with leader/09 = "a": after decoding, the text is Unicode whatever it was.

    ``from_xml``: the record was read from parsed XML (:func:`pymarc_from_marcxml`), whose text
    cannot hold a character XML forbids, so the serialised text needs no cleaning.
    """
    leader = str(record.leader)
    unicode_leader = (leader[:9] + "a" + leader[10:] + " " * 24)[:24]
    xml = _marcxml_text(record, unicode_leader)
    if xml is None:
        original = record.leader
        record.leader = Leader(unicode_leader)
        try:
            # encoding="unicode": pymarc's record_to_xml writes ASCII with character references
            xml = ElementTree.tostring(
                # pymarc's marcxml module is not annotated
                record_to_xml_node(record, quiet=True, namespace=True),  # type: ignore[no-untyped-call]
                encoding="unicode",
            )
        finally:
            record.leader = original
    # stray control bytes from broken records would make the XML unreadable; NFC like every other field
    return unicodedata.normalize("NFC", xml if from_xml else clean_xml_text(xml))

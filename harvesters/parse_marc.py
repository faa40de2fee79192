"""MARC21 (ISO 2709 and MARCXML) to Lienhop's normalised :class:`~schemas.record.Record`.

Pure functions on pymarc records. The mapping, field by field:

* title / subtitle: 245 $a (+ $n $p) / $b, ISBD punctuation (" /", " :", " ;", " =") trimmed;
* authors: 100, 110, 111, 700, 710, 711 (name parts only, no dates or relator terms);
* subjects: 600-651 ($a and name parts, then $v $x $y $z joined with " -- ") and 653 $a;
* abstract: 520 $a $b; publisher: 264 (ind2 "1") or 260 $b; year: 264/260 $c, else 008/07-10;
* language: 008/35-37, else 041 $a, as ISO 639-3;
* type: 502 (thesis note), 655 genre terms, 008 (conference, theses), then leader/06-07;
* identifiers: 020 $a (ISBN-13), 022 $a (ISSN), 024 with $2 doi/hdl, 856 $u (URL, and DOI or handle
  when it is a resolver link), 001 as the local id.

Alternate-script 880 fields: a linked 100/110/111/700/710/711 adds the vernacular name as an extra
author (so a search in the original script finds the record), and a linked 245 supplies the title
only when the record has no romanised 245. Other 880s stay in ``raw`` only.

Every text value goes through :func:`~harvesters.normalise.nfc`. ``raw`` is the MARCXML of the
record (Unicode, leader/09 = "a"), so records can be re-derived later whatever the source encoding.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
import warnings
from collections.abc import Iterable
from datetime import datetime
from xml.etree import ElementTree

import pymarc
from lxml import etree
from pymarc import Field, Leader, Subfield
from pymarc.marcxml import MARC_XML_NS, MARC_XML_SCHEMA, XSI_NS, record_to_xml_node

from schemas.errors import MarcImportError
from schemas.record import Identifiers, RawFormat, Record

from .normalise import (
    classify_identifier,
    extract_year,
    language_code,
    nfc,
    normalise_doi,
    normalise_handle,
    normalise_isbn,
    normalise_issn,
    record_type,
)
from .xml import LOCAL_NAMES, clean_xml_text, local_name, parse_xml, tag_local_name

MARC_NS = "http://www.loc.gov/MARC21/slim"
_DEFAULT_LEADER = "     nam a22     uu 4500"

__all__ = [
    "MARC_NS",
    "check_marc21",
    "decode_iso2709",
    "local_identifier",
    "pymarc_from_marcxml",
    "record_from_marc",
    "record_from_marcxml",
]


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


# -------------------------------------------------------------------------------- field helpers


_INITIAL = re.compile(r"(?:^|[\s.])\w\.$")


def _trim(value: str | None) -> str | None:
    """NFC, then ISBD punctuation trimmed from the end (" /", " :", ",", a final "." after a word)."""
    text = nfc(value)
    if not text:
        return None
    # what ``[\s/:;,=]+$`` removes: after ``nfc`` the only whitespace left is single inner spaces
    text = text.rstrip(" /:;,=")
    # a final full stop is ISBD punctuation, except after an initial ("Smith, J.") or an ellipsis
    if text.endswith(".") and not text.endswith("..") and not _INITIAL.search(text):
        text = text[:-1].rstrip()
    return text or None


def _subs(field: Field, codes: str) -> list[str]:
    """The trimmed values of ``field``'s subfields whose code is in ``codes``, in record order."""
    out = []
    for sub in field.subfields:
        if sub.code in codes:
            value = _trim(sub.value)
            if value:
                out.append(value)
    return out


def _unique(values: Iterable[str | None]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        if value and value not in seen:
            seen.add(value)
            out.append(value)
    return out


class _Fields:
    """A pymarc record's fields by tag, gathered in one pass.

    The mapping asks a record for some twenty tags, and pymarc's ``get_fields`` walks every field for
    each of them; this answers ``get_fields`` and ``get`` as pymarc does (fields in record order).
    """

    __slots__ = ("_all", "_by_tag", "leader")

    def __init__(self, record: pymarc.Record) -> None:
        self.leader = record.leader
        self._all: list[Field] = record.fields
        by_tag: dict[str, list[Field]] = {}
        for field in self._all:
            found = by_tag.get(field.tag)
            if found is None:
                by_tag[field.tag] = [field]
            else:
                found.append(field)
        self._by_tag = by_tag

    def get_fields(self, *tags: str) -> list[Field]:
        """The fields with any of ``tags``, in record order (a new list)."""
        if len(tags) == 1:
            return list(self._by_tag.get(tags[0], ()))
        return [f for f in self._all if f.tag in tags]

    def get(self, tag: str) -> Field | None:
        """The first field with ``tag``."""
        found = self._by_tag.get(tag)
        return found[0] if found else None


def _control(record: pymarc.Record | _Fields, tag: str) -> str:
    field = record.get(tag)
    return (field.data or "") if field is not None and field.control_field else ""


def _linked_tag(field: Field) -> str | None:
    """The tag an 880 field is linked to ($6 "245-01/$1" -> "245")."""
    link = field.get("6")
    return link[:3] if link and _THREE_DIGITS.match(link) else None


_THREE_DIGITS = re.compile(r"^\d{3}")


_AUTHOR_TAGS = ("100", "110", "111", "700", "710", "711")


def _author(field: Field, tag: str) -> str | None:
    if tag in ("110", "710"):
        return ". ".join(_subs(field, "ab")) or None
    if tag in ("111", "711"):
        return " ".join(_subs(field, "a")) or None
    return " ".join(_subs(field, "ab")) or None


def _title(field: Field) -> tuple[str | None, str | None]:
    main = ". ".join(_subs(field, "anp")) or None
    sub = " ".join(_subs(field, "b")) or None
    return main, sub


_SUBJECT_MAIN = {
    "600": "abcdqt",
    "610": "abt",
    "611": "acdnt",
    "630": "adnpt",
    "648": "a",
    "650": "ab",
    "651": "a",
}


def _subject(field: Field) -> str | None:
    # name headings read "Buber, Martin, 1878-1965"; a title part follows after a full stop
    main = ""
    for sub in field.subfields:
        if sub.code in _SUBJECT_MAIN[field.tag]:
            value = _trim(sub.value)
            if value:
                main = f"{main}{'. ' if sub.code == 't' else ', '}{value}" if main else value
    parts = [main] if main else []
    for sub in field.subfields:
        if sub.code in "vxyz":
            value = _trim(sub.value)
            if value:
                parts.append(value)
    return " -- ".join(parts) or None


def _publication_statement(field: Field) -> bool:
    """Whether a 264 is the publication statement (ind2 "1"); a data field always has indicators."""
    indicators = field.indicators
    return indicators is not None and indicators.second == "1"


def _year(record: _Fields) -> int | None:
    # 264 with ind2 "1" is the publication statement; other 264s (copyright, manufacture) come later
    fields = sorted(record.get_fields("264"), key=lambda f: not _publication_statement(f))
    fields += record.get_fields("260")
    for field in fields:
        for value in field.get_subfields("c"):
            year = extract_year(value)
            if year:
                return year
    f008 = _control(record, "008")
    if len(f008) >= 11 and f008[7:11].isdigit():
        return extract_year(f008[7:11])
    return None


def _publisher(record: _Fields) -> str | None:
    fields = [f for f in record.get_fields("264") if _publication_statement(f)] + record.get_fields("260")
    for field in fields:
        names = _subs(field, "b")
        if names:
            return names[0]
    return None


def _language(record: _Fields) -> str | None:
    f008 = _control(record, "008")
    if len(f008) >= 38:
        code = language_code(f008[35:38])
        if code:
            return code
    for field in record.get_fields("041"):
        for value in field.get_subfields("a"):
            code = language_code(value.strip()[:3])  # old records run codes together: "engfre"
            if code:
                return code
    return None


def _type(record: _Fields) -> str:
    if record.get_fields("502"):
        return "thesis"
    genre = record_type(v for f in record.get_fields("655") for v in f.get_subfields("a"))
    if genre != "other":
        return genre
    leader = str(record.leader)
    kind, level = leader[6], leader[7]
    f008 = _control(record, "008")
    if kind in "at" and len(f008) >= 30:
        if "m" in f008[24:28] and level == "m":  # nature of contents: theses
            return "thesis"
        if f008[29] == "1":  # conference publication
            return "conference"
    if kind == "m":
        return "dataset" if len(f008) > 26 and f008[26] == "a" else "other"  # numeric data
    return record_type([kind + level]) if kind.strip() else "other"


def _identifiers(record: _Fields) -> Identifiers:
    isbn = [normalise_isbn(v) for f in record.get_fields("020") for v in f.get_subfields("a")]
    issn = [normalise_issn(v) for f in record.get_fields("022") for v in f.get_subfields("a")]
    doi: list[str | None] = []
    handle: list[str | None] = []
    urls: list[str | None] = []
    for field in record.get_fields("024"):
        source = (field.get("2") or "").strip().lower()
        for value in field.get_subfields("a"):
            if source == "doi":
                doi.append(normalise_doi(value))
            elif source in ("hdl", "handle"):
                handle.append(normalise_handle(value))
    for field in record.get_fields("856"):
        for value in field.get_subfields("u"):
            url = nfc(value)
            if not url:
                continue
            urls.append(url)
            kind = classify_identifier(url)
            if kind and kind[0] == "doi":
                doi.append(kind[1])
            elif kind and kind[0] == "handle":
                handle.append(kind[1])
    return Identifiers(
        isbn=_unique(isbn),
        issn=_unique(issn),
        doi=_unique(doi),
        handle=_unique(handle),
        urls=_unique(urls),
        local_id=nfc(_control(record, "001")),
    )


# ------------------------------------------------------------------------------------- identity


def _canonical(record: pymarc.Record) -> str:
    """The record's fields in a canonical text form; 005 (last transaction time) is left out so that a
    re-export of an unchanged record keeps its identity."""
    parts = []
    for field in record.fields:
        if field.tag == "005":
            continue
        if field.control_field:
            parts.append(f"{field.tag}\x1e{field.data or ''}")
        else:
            subs = "".join(f"\x1f{s.code}{nfc(s.value) or ''}" for s in field.subfields)
            parts.append(f"{field.tag}{''.join(field.indicators or ('', ''))}{subs}")
    return "\x1d".join(parts)


def local_identifier(record: pymarc.Record) -> str:
    """The record's identity within its member: "003:001", "001", or "content-<hash>" without 001.

    The content hash makes a record without a control number keep the same identity on every import
    of the same file, so re-importing changes nothing.
    """
    control = nfc(_control(record, "001"))
    if control:
        agency = nfc(_control(record, "003"))
        return f"{agency}:{control}" if agency else control
    digest = hashlib.blake2b(_canonical(record).encode(), digest_size=10).hexdigest()
    return f"content-{digest}"


def check_marc21(record: pymarc.Record) -> None:
    """Refuse what is not MARC21 bibliographic data (:class:`MarcImportError` with the reason).

    UNIMARC uses the same ISO 2709 envelope, so it parses, but its title is in 200 and 245 is absent;
    mapping it as MARC21 would produce nonsense, so it is refused with a reason that says so.
    """
    if record.get_fields("245") or record.get_fields("880"):
        return
    if any(f.get("a") for f in record.get_fields("200")):
        raise MarcImportError("looks like UNIMARC (title in field 200, no 245); only MARC21 can be imported")
    leader = str(record.leader)
    if leader[6] in "uvxyz":
        raise MarcImportError(
            f"MARC21 holdings or authority record (leader/06 = {leader[6]!r}), not bibliographic"
        )


# -------------------------------------------------------------------------------------- records


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


def _raw_xml(record: pymarc.Record, from_xml: bool = False) -> str:
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


def record_from_marc(
    record: pymarc.Record,
    member: str,
    raw_format: RawFormat = "marc21",
    oai_identifier: str | None = None,
    datestamp: datetime | None = None,
) -> Record:
    """Map a pymarc record to a Lienhop record (see the module docstring for the mapping).

    ``oai_identifier`` is the OAI-PMH identifier for harvested records; imported records get
    ``marc:<local id>`` (see :func:`local_identifier`). Raises :class:`MarcImportError` for records
    that are not MARC21 bibliographic data (:func:`check_marc21`).
    """
    return _mapped(record, member, raw_format, oai_identifier, datestamp, from_xml=False)


def _mapped(
    record: pymarc.Record,
    member: str,
    raw_format: RawFormat,
    oai_identifier: str | None,
    datestamp: datetime | None,
    from_xml: bool,
) -> Record:
    """:func:`record_from_marc`; ``from_xml`` as for :func:`_raw_xml`."""
    check_marc21(record)
    fields = _Fields(record)
    title = subtitle = None
    for field in fields.get_fields("245"):
        title, subtitle = _title(field)
        break
    authors: list[str | None] = []
    for tag in _AUTHOR_TAGS:
        authors.extend(_author(f, tag) for f in fields.get_fields(tag))
    for field in fields.get_fields("880"):
        linked = _linked_tag(field)
        if linked in _AUTHOR_TAGS:
            authors.append(_author(field, linked))
        elif linked == "245" and not title:
            title, subtitle = _title(field)
    subjects = [_subject(f) for f in fields.get_fields(*_SUBJECT_MAIN)]
    subjects += [v for f in fields.get_fields("653") for v in _subs(f, "a")]
    abstract = nfc(" ".join(" ".join(f.get_subfields("a", "b")) for f in fields.get_fields("520")))
    return Record(
        member=member,
        oai_identifier=oai_identifier or f"marc:{local_identifier(record)}",
        datestamp=datestamp,
        title=title,
        subtitle=subtitle,
        authors=_unique(authors),
        subjects=_unique(subjects),
        abstract=abstract,
        publisher=_publisher(fields),
        year=_year(fields),
        language=_language(fields),
        type=_type(fields),
        identifiers=_identifiers(fields),
        raw_format=raw_format,
        raw=_raw_xml(record, from_xml),
    )


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


def record_from_stored_marcxml(
    raw: str,
    member: str,
    raw_format: RawFormat,
    oai_identifier: str,
    datestamp: datetime | None = None,
) -> Record:
    """Map a record again from the MARCXML the store kept of it (``Record.raw``), whatever the
    record first came as (harvested MARCXML, an imported MARCXML or ISO 2709 file): the same
    mapping, with the identity and datestamp it was stored with."""
    element = find_marc_record(parse_xml(raw.encode()).root)
    if element is None:
        raise MarcImportError("the stored metadata holds no MARCXML <record>")
    record = pymarc_from_marcxml(element, strict=raw_format != "marc21")
    return _mapped(record, member, raw_format, oai_identifier, datestamp, from_xml=True)


def record_from_marcxml(
    element_or_bytes: etree._Element | bytes,
    member: str,
    oai_identifier: str | None = None,
    datestamp: datetime | None = None,
) -> Record:
    """Map one MARCXML record to a Lienhop record.

    Accepts the ``<record>`` element itself, an element containing it (``<metadata>``,
    ``<collection>``) or the bytes of such a document (parsed with the hardened parser of
    :mod:`harvesters.xml`). Raises :class:`MarcImportError` when no valid MARC record is found.
    """
    if isinstance(element_or_bytes, bytes | bytearray):
        root = parse_xml(bytes(element_or_bytes)).root
    else:
        root = element_or_bytes
    element = find_marc_record(root)
    if element is None:
        raise MarcImportError(f"no MARCXML <record> found (got <{local_name(root)}>)")
    return _mapped(pymarc_from_marcxml(element), member, "marcxml", oai_identifier, datestamp, from_xml=True)

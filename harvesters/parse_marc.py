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
import re
from collections.abc import Iterable
from datetime import datetime

import pymarc
from lxml import etree
from pymarc import Field

from schemas.errors import MarcImportError
from schemas.record import Identifiers, RawFormat, Record

from .marc_io import find_marc_record, pymarc_from_marcxml, raw_marcxml
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
from .xml import local_name, parse_xml

__all__ = [
    "check_marc21",
    "local_identifier",
    "record_from_marc",
    "record_from_marcxml",
    "record_from_stored_marcxml",
]


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
    """:func:`record_from_marc`; ``from_xml`` as for :func:`~harvesters.marc_io.raw_marcxml`."""
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
        raw=raw_marcxml(record, from_xml),
    )


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

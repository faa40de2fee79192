"""A record as MARC 21: the member's own MARC when the record came as MARC, else mapped from the
normalised record; written as MARCXML or as ISO 2709 (``application/marc``).

The member's MARC is given back as the store kept it (``Record.raw``, MARCXML with leader/09 = "a"
whatever the record first came as): its local fields, 880 scripts and cataloguing are the member's
work, and a union catalogue should pass them on rather than a poorer copy of its own making.
"""

from __future__ import annotations

from collections.abc import Sequence

import pymarc
from lxml import etree
from pymarc import Field, Leader, Subfield

from harvesters.marc_io import find_marc_record, pymarc_from_marcxml
from harvesters.xml import clean_xml_text, parse_xml
from schemas.errors import HarvestError, InvalidInput, MarcImportError
from schemas.record import Record

from ..oai.xml import MARC, XSI

MARCXML_MEDIA_TYPE = "application/marcxml+xml"
MARC21_MEDIA_TYPE = "application/marc"
_ISO2709_MAX = 99999  # bytes of one record: the leader holds its length in five digits

# leader/06 (type of record), leader/07 (bibliographic level) and a 655 genre term per record type
_LEADER = {
    "book": ("a", "m"),
    "thesis": ("a", "m"),
    "article": ("a", "a"),
    "report": ("a", "m"),
    "conference": ("a", "m"),
    "journal": ("a", "s"),
    "dataset": ("m", "m"),
    "other": ("a", "m"),
}
_GENRE = {
    "book": "Book",
    "thesis": "Thesis",
    "article": "Article",
    "report": "Report",
    "conference": "Conference paper",
    "journal": "Journal",
    "dataset": "Dataset",
}


def _own_element(record: Record) -> etree._Element | None:
    """The member's MARCXML ``<record>`` as the store kept it, when the record came as MARC."""
    if record.raw_format not in ("marcxml", "marc21") or not record.raw:
        return None
    try:
        return find_marc_record(parse_xml(record.raw.encode()).root)
    except HarvestError:
        return None  # unreadable kept metadata: the mapping from the normalised record still serves


def own_marc(record: Record) -> pymarc.Record | None:
    """The member's own MARC record, when the record was harvested or imported as MARC."""
    element = _own_element(record)
    try:
        return None if element is None else pymarc_from_marcxml(element, strict=False)
    except MarcImportError:
        return None


def mapped_marc(record: Record, links: Sequence[str] = ()) -> pymarc.Record:
    """MARC 21 made from the normalised record (for records that came as Dublin Core)."""
    kind, level = _LEADER.get(record.type, _LEADER["other"])
    year = f"{record.year:04d}" if record.year and 0 < record.year < 10000 else None
    language = record.language if record.language and len(record.language) == 3 else "und"
    entered = record.datestamp.strftime("%y%m%d") if record.datestamp else "000000"
    fields = [Field(tag="001", data=record.id)]
    if record.datestamp:
        fields.append(Field(tag="005", data=record.datestamp.strftime("%Y%m%d%H%M%S.0")))
    fields.append(
        Field(tag="008", data=f"{entered}{'s' if year else 'n'}{year or 'uuuu'}    xx {' ' * 17}{language} d")
    )

    def data(tag: str, indicators: tuple[str, str], *subfields: tuple[str, str | None]) -> None:
        present = [Subfield(code, value) for code, value in subfields if value]
        if present:
            fields.append(Field(tag, indicators, present))  # type: ignore[arg-type]

    ids = record.identifiers
    for isbn in ids.isbn:
        data("020", (" ", " "), ("a", isbn))
    for issn in ids.issn:
        data("022", (" ", " "), ("a", issn))
    for doi in ids.doi:
        data("024", ("7", " "), ("a", doi), ("2", "doi"))
    for handle in ids.handle:
        data("024", ("7", " "), ("a", handle), ("2", "hdl"))
    if ids.local_id:
        data("035", (" ", " "), ("a", f"({record.member}){ids.local_id}"))
    if record.language:
        data("041", ("0", " "), ("a", record.language))
    authors = record.authors
    if authors:
        data("100", (_name_indicator(authors[0]), " "), ("a", authors[0]))
    data("245", ("1" if authors else "0", "0"), ("a", record.title), ("b", record.subtitle))
    data("264", (" ", "1"), ("b", record.publisher), ("c", year))
    data("520", (" ", " "), ("a", record.abstract))
    for subject in record.subjects:
        data("650", (" ", "4"), ("a", subject))
    data("655", (" ", "4"), ("a", _GENRE.get(record.type)))
    for author in authors[1:]:
        data("700", (_name_indicator(author), " "), ("a", author))
    for url in dict.fromkeys([*links, *ids.urls]):
        data("856", ("4", "0"), ("u", url))
    return pymarc.Record(fields=fields, leader=f"00000n{kind}{level} a2200000uu 4500", force_utf8=True)


def _name_indicator(name: str) -> str:
    """100/700 first indicator: 1 for "Family, Given", 0 for a name in direct order."""
    return "1" if "," in name else "0"


def marc_record(record: Record, links: Sequence[str] = ()) -> pymarc.Record:
    """The member's MARC when there is one, else the mapping of the normalised record."""
    return own_marc(record) or mapped_marc(record, links)


def marcxml_of(record: Record, links: Sequence[str] = ()) -> etree._Element:
    """The record as a MARCXML ``marc:record`` element: the member's own one as kept (no detour
    through pymarc: a harvest of the feed writes thousands a second), else the mapping."""
    own = _own_element(record)
    if own is not None and own.tag == f"{{{MARC}}}record":
        return own
    return marcxml_element(marc_record(record, links))


def marcxml_element(marc: pymarc.Record) -> etree._Element:
    """A pymarc record as a MARCXML ``marc:record`` element."""
    root = etree.Element(f"{{{MARC}}}record", nsmap={"marc": MARC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{MARC} http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd")
    etree.SubElement(root, f"{{{MARC}}}leader").text = str(marc.leader)
    for field in marc.fields:
        if field.control_field:
            control = etree.SubElement(root, f"{{{MARC}}}controlfield", tag=field.tag)
            control.text = clean_xml_text(field.data or "")
            continue
        indicators = field.indicators or (" ", " ")
        datafield = etree.SubElement(
            root,
            f"{{{MARC}}}datafield",
            tag=field.tag,
            ind1=indicators[0] or " ",
            ind2=indicators[1] or " ",
        )
        for sub in field.subfields:
            etree.SubElement(datafield, f"{{{MARC}}}subfield", code=sub.code).text = clean_xml_text(sub.value)
    return root


def to_marcxml(record: Record, links: Sequence[str] = ()) -> bytes:
    """A MARCXML document (a ``marc:collection`` of the one record, as MARCXML files are)."""
    collection = etree.Element(f"{{{MARC}}}collection", nsmap={"marc": MARC})
    collection.append(marcxml_of(record, links))
    return etree.tostring(collection, xml_declaration=True, encoding="UTF-8")


def join_marcxml(documents: Sequence[bytes]) -> bytes:
    """One ``marc:collection`` of the records of several MARCXML documents (a result page's works)."""
    collection = etree.Element(f"{{{MARC}}}collection", nsmap={"marc": MARC})
    for document in documents:  # ours, just written: no need of the harvest's hardened parser
        collection.extend(etree.fromstring(document))
    return etree.tostring(collection, xml_declaration=True, encoding="UTF-8")


def to_marc21(record: Record, links: Sequence[str] = ()) -> bytes:
    """The record in ISO 2709 transmission format, UTF-8 (leader/09 = "a")."""
    return iso2709(marc_record(record, links), "the record")


def iso2709(marc: pymarc.Record, what: str) -> bytes:
    """``marc`` in ISO 2709 transmission format, UTF-8 (leader/09 = "a"); ``InvalidInput`` naming
    ``what`` when it is longer than the format's five-digit length allows."""
    leader = str(marc.leader)
    marc.leader = Leader(leader[:9] + "a" + leader[10:])
    marc.force_utf8 = True
    encoded = marc.as_marc()
    if len(encoded) > _ISO2709_MAX:
        raise InvalidInput(
            f"{what} is {len(encoded)} bytes, more than ISO 2709 allows ({_ISO2709_MAX}); "
            "ask for format=marcxml"
        )
    return encoded

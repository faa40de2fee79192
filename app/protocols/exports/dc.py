"""A record as simple Dublin Core (the ``oai_dc`` container), for the OAI-PMH feed and for export."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from harvesters.xml import clean_xml_text
from schemas.record import Record

from ..oai.xml import DC, OAI_DC, XSI
from .citation import language_tag

MEDIA_TYPE = "application/xml"
#: Simple Dublin Core has no container of several records: a result page's are the ``oai_dc:dc``
#: elements of a ``collection`` in this namespace of ours.
COLLECTION = "info:lienhop/export/dc-collection-1"

# DCMI Type Vocabulary terms, with the type in words as most harvesters display it.
DC_TYPES = {
    "book": ("Text", "Book"),
    "thesis": ("Text", "Thesis"),
    "article": ("Text", "Article"),
    "report": ("Text", "Report"),
    "conference": ("Text", "Conference paper"),
    "journal": ("Text", "Journal"),
    "dataset": ("Dataset", "Dataset"),
    "other": ("Text", None),
}


def dc_element(record: Record, links: Sequence[str] = ()) -> etree._Element:
    """The record as an ``oai_dc:dc`` element; ``links`` (record page, OPAC) become identifiers."""
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} http://www.openarchives.org/OAI/2.0/oai_dc.xsd")

    def add(tag: str, text: str | None) -> None:
        if text:
            etree.SubElement(root, f"{{{DC}}}{tag}").text = clean_xml_text(text)

    add("title", f"{record.title} : {record.subtitle}" if record.title and record.subtitle else record.title)
    for author in record.authors:
        add("creator", author)
    for subject in record.subjects:
        add("subject", subject)
    add("description", record.abstract)
    add("publisher", record.publisher)
    add("date", str(record.year) if record.year else None)
    for term in DC_TYPES.get(record.type, DC_TYPES["other"]):
        add("type", term)
    add("language", language_tag(record.language))
    ids = record.identifiers
    for value in ids.isbn:
        add("identifier", f"urn:isbn:{value}")
    for value in ids.issn:
        add("identifier", f"urn:issn:{value}")
    for value in ids.doi:
        add("identifier", f"https://doi.org/{value}")
    for value in ids.handle:
        add("identifier", f"http://hdl.handle.net/{value}")
    for url in dict.fromkeys([*links, *ids.urls]):
        add("identifier", url)
    return root


def to_dc(record: Record, links: Sequence[str] = ()) -> bytes:
    """A standalone Dublin Core XML document of the record."""
    return etree.tostring(dc_element(record, links), xml_declaration=True, encoding="UTF-8")


def join_dc(documents: Sequence[bytes]) -> bytes:
    """The ``oai_dc:dc`` elements of several documents in one :data:`COLLECTION` element."""
    root = etree.Element(
        f"{{{COLLECTION}}}collection", nsmap={"lh": COLLECTION, "oai_dc": OAI_DC, "dc": DC, "xsi": XSI}
    )
    for document in documents:  # ours, just written: no need of the harvest's hardened parser
        root.append(etree.fromstring(document))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

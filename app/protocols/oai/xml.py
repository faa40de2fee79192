"""Writing OAI-PMH 2.0 responses: the envelope, errors and each verb's elements (pure; lxml only)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from .arguments import stamp
from .errors import OAIPMHError

OAI = "http://www.openarchives.org/OAI/2.0/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
MARC = "http://www.loc.gov/MARC21/slim"
OAI_ID = "http://www.openarchives.org/OAI/2.0/oai-identifier"
MEDIA_TYPE = "text/xml; charset=utf-8"

# The oai-identifier scheme's repositoryIdentifier: a domain name with at least one dot.
_REPOSITORY_IDENTIFIER = r"[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+"


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str


OAI_DC_FORMAT = MetadataFormat("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC)
MARCXML_FORMAT = MetadataFormat("marcxml", "http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd", MARC)


@dataclass(frozen=True)
class RepositoryInfo:
    """What ``Identify`` says of a repository."""

    name: str
    base_url: str
    admin_emails: Sequence[str]
    earliest: datetime
    repository_identifier: str | None = None  # the oai-identifier description, when the name is a domain
    sample_identifier: str | None = None
    deleted_record: str = "persistent"
    granularity: str = "YYYY-MM-DDThh:mm:ssZ"


@dataclass(frozen=True)
class Header:
    identifier: str
    datestamp: datetime
    sets: Sequence[str] = field(default_factory=tuple)
    deleted: bool = False


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{OAI}}}{tag}", attrib)
    if text is not None:
        element.text = text
    return element


def response_document(
    base_url: str,
    args: Mapping[str, str],
    body: etree._Element | None = None,
    error: OAIPMHError | None = None,
    now: datetime | None = None,
) -> bytes:
    """The whole response: ``responseDate``, the ``request`` echoed, then the verb's element or the error."""
    root = etree.Element(f"{{{OAI}}}OAI-PMH", nsmap={None: OAI, "xsi": XSI})  # type: ignore[dict-item]
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    _sub(root, "responseDate", stamp(now or datetime.now(UTC)))
    request = _sub(root, "request", base_url)
    if error is None or error.echo_args:
        for key, value in args.items():
            request.set(key, value)
    if error is not None:
        _sub(root, "error", error.message, code=error.code)
    elif body is not None:
        root.append(body)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def identify_element(info: RepositoryInfo) -> etree._Element:
    el = etree.Element(f"{{{OAI}}}Identify")
    for tag, text in (
        ("repositoryName", info.name),
        ("baseURL", info.base_url),
        ("protocolVersion", "2.0"),
        *(("adminEmail", email) for email in info.admin_emails),
        ("earliestDatestamp", stamp(info.earliest)),
        ("deletedRecord", info.deleted_record),
        ("granularity", info.granularity),
    ):
        _sub(el, tag, text)
    if info.repository_identifier and re.fullmatch(_REPOSITORY_IDENTIFIER, info.repository_identifier):
        description = _sub(el, "description")
        ident = etree.SubElement(description, f"{{{OAI_ID}}}oai-identifier", nsmap={None: OAI_ID})  # type: ignore[dict-item]
        ident.set(
            f"{{{XSI}}}schemaLocation", f"{OAI_ID} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
        )
        for tag, text in (
            ("scheme", "oai"),
            ("repositoryIdentifier", info.repository_identifier),
            ("delimiter", ":"),
            ("sampleIdentifier", info.sample_identifier or f"oai:{info.repository_identifier}:1"),
        ):
            etree.SubElement(ident, f"{{{OAI_ID}}}{tag}").text = text
    return el


def formats_element(formats: Iterable[MetadataFormat]) -> etree._Element:
    el = etree.Element(f"{{{OAI}}}ListMetadataFormats")
    for fmt in formats:
        entry = _sub(el, "metadataFormat")
        _sub(entry, "metadataPrefix", fmt.prefix)
        _sub(entry, "schema", fmt.schema)
        _sub(entry, "metadataNamespace", fmt.namespace)
    return el


def sets_element(sets: Iterable[tuple[str, str]]) -> etree._Element:
    """``ListSets`` of (setSpec, setName) pairs."""
    el = etree.Element(f"{{{OAI}}}ListSets")
    for spec, name in sets:
        entry = _sub(el, "set")
        _sub(entry, "setSpec", spec)
        _sub(entry, "setName", name)
    return el


def header_element(header: Header) -> etree._Element:
    el = etree.Element(f"{{{OAI}}}header")
    if header.deleted:
        el.set("status", "deleted")
    _sub(el, "identifier", header.identifier)
    _sub(el, "datestamp", stamp(header.datestamp))
    for spec in header.sets:
        _sub(el, "setSpec", spec)
    return el


def record_element(header: Header, metadata: etree._Element | None) -> etree._Element:
    """A ``<record>``: its header, and its metadata unless the record is deleted."""
    el = etree.Element(f"{{{OAI}}}record")
    el.append(header_element(header))
    if metadata is not None and not header.deleted:
        _sub(el, "metadata").append(metadata)
    return el


def add_resumption_token(
    parent: etree._Element, token: str | None, complete_list_size: int | None, cursor: int
) -> None:
    """The ``resumptionToken`` of a page of an incomplete list (empty on its last page)."""
    attrib = {"cursor": str(cursor)}
    if complete_list_size is not None:
        attrib["completeListSize"] = str(complete_list_size)
    _sub(parent, "resumptionToken", token or "", **attrib)

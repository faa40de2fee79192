"""Writing SRU responses (pure; lxml only): ``explain`` as a ZeeRex record, ``searchRetrieve`` with
its records, and diagnostics, in SRU 1.2's namespaces or SRU 2.0's (OASIS searchRetrieve)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from .diagnostics import SruDiagnostic

SRW = "http://www.loc.gov/zing/srw/"
SRW_DIAG = "http://www.loc.gov/zing/srw/diagnostic/"
SRU2 = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
SRU2_DIAG = "http://docs.oasis-open.org/ns/search-ws/diagnostic"
ZEEREX = "http://explain.z3950.org/dtd/2.0/"
ZEEREX_SCHEMA = "http://explain.z3950.org/dtd/2.0/"
#: The indexes ``sortBy`` takes (``cql.py``)
SORTABLE = {("dc", "date"), ("dc", "title")}
#: The context sets of the indexes explain lists.
CONTEXT_SETS = {
    "cql": "info:srw/cql-context-set/1/cql-v1.2",
    "dc": "info:srw/cql-context-set/1/dc-v1.1",
    "bath": "http://zing.z3950.org/cql/bath/2.0/",
    "rec": "info:srw/cql-context-set/2/rec-1.1",
}


@dataclass(frozen=True)
class Schema:
    """A record schema: its short name, its identifier URI, a title."""

    name: str
    identifier: str
    title: str
    location: str


@dataclass(frozen=True)
class Envelope:
    """How one answer is written: its version and, from that, its namespaces."""

    version: str

    @property
    def ns(self) -> str:
        return SRU2 if self.version == "2.0" else SRW

    @property
    def diag_ns(self) -> str:
        return SRU2_DIAG if self.version == "2.0" else SRW_DIAG

    def root(self, name: str) -> etree._Element:
        root = etree.Element(f"{{{self.ns}}}{name}", nsmap={"sru": self.ns})
        self.add(root, "version", self.version)
        return root

    def add(self, parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, f"{{{self.ns}}}{name}")
        if text is not None:
            element.text = text
        return element

    def diagnostics(self, parent: etree._Element, found: Sequence[SruDiagnostic]) -> None:
        if not found:
            return
        holder = self.add(parent, "diagnostics")
        for diagnostic in found:
            element = etree.SubElement(holder, f"{{{self.diag_ns}}}diagnostic", nsmap={"diag": self.diag_ns})
            etree.SubElement(element, f"{{{self.diag_ns}}}uri").text = diagnostic.uri
            if diagnostic.details:
                etree.SubElement(element, f"{{{self.diag_ns}}}details").text = diagnostic.details
            etree.SubElement(element, f"{{{self.diag_ns}}}message").text = diagnostic.message

    def record(
        self,
        parent: etree._Element,
        schema: str,
        data: etree._Element,
        position: int | None,
        packing: str,
        extra: etree._Element | None = None,
    ) -> etree._Element:
        """A ``record`` holding ``data`` as XML, or as escaped text when ``packing`` is ``string``."""
        record = self.add(parent, "record")
        self.add(record, "recordSchema", schema)
        self.add(record, "recordXMLEscaping" if self.version == "2.0" else "recordPacking", packing)
        holder = self.add(record, "recordData")
        if packing == "string":
            holder.text = etree.tostring(data, encoding="unicode")
        else:
            holder.append(data)
        if position is not None:
            self.add(record, "recordPosition", str(position))
        if extra is not None:
            self.add(record, "extraRecordData").append(extra)
        return record


def serialise(root: etree._Element) -> bytes:
    # indented: sruthi (and people) read diagnostics by their text, which indentation gives
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def search_retrieve_response(
    env: Envelope,
    total: int,
    records: Sequence[tuple[str, etree._Element, etree._Element]],
    start: int,
    packing: str,
    echo: Mapping[str, str],
    found: Sequence[SruDiagnostic] = (),
) -> bytes:
    """``searchRetrieveResponse``: ``records`` are (schema identifier, data, extra record data) from
    position ``start``."""
    root = env.root("searchRetrieveResponse")
    env.add(root, "numberOfRecords", str(total))
    if records:
        holder = env.add(root, "records")
        for offset, (schema, data, extra) in enumerate(records):
            env.record(holder, schema, data, start + offset, packing, extra)
    following = start + len(records)
    if records and following <= total:
        env.add(root, "nextRecordPosition", str(following))
    _echo(env, root, "echoedSearchRetrieveRequest", echo)
    env.diagnostics(root, found)
    return serialise(root)


def diagnostic_response(
    env: Envelope, operation: str, diagnostic: SruDiagnostic, echo: Mapping[str, str]
) -> bytes:
    """A response carrying one fatal diagnostic, of the operation asked for."""
    if operation == "explain":
        root = env.root("explainResponse")
    else:
        root = env.root("searchRetrieveResponse")
        env.add(root, "numberOfRecords", "0")
        _echo(env, root, "echoedSearchRetrieveRequest", echo)
    env.diagnostics(root, [diagnostic])
    return serialise(root)


def _echo(env: Envelope, root: etree._Element, name: str, echo: Mapping[str, str]) -> None:
    if not echo:
        return
    holder = env.add(root, name)
    for key, value in echo.items():
        env.add(holder, key, value)


def explain_response(
    env: Envelope,
    base_url: str,
    title: str,
    description: str,
    indexes: Sequence[tuple[str, str, str]],
    schemas: Sequence[Schema],
    default_records: int,
    max_records: int,
    packing: str,
) -> bytes:
    """``explainResponse``: a ZeeRex 2.0 record of the server, its indexes and record schemas."""
    root = env.root("explainResponse")
    z = ZEEREX
    explain = etree.Element(f"{{{z}}}explain", nsmap={"zr": z})
    url = urlsplit(base_url)
    server = etree.SubElement(
        explain, f"{{{z}}}serverInfo", protocol="SRU", version=env.version, transport=url.scheme
    )
    etree.SubElement(server, f"{{{z}}}host").text = url.hostname or "localhost"
    etree.SubElement(server, f"{{{z}}}port").text = str(url.port or (443 if url.scheme == "https" else 80))
    etree.SubElement(server, f"{{{z}}}database").text = url.path.lstrip("/") or "sru"
    database = etree.SubElement(explain, f"{{{z}}}databaseInfo")
    etree.SubElement(database, f"{{{z}}}title", lang="en", primary="true").text = title
    etree.SubElement(database, f"{{{z}}}description", lang="en", primary="true").text = description
    index_info = etree.SubElement(explain, f"{{{z}}}indexInfo")
    for name, identifier in CONTEXT_SETS.items():
        etree.SubElement(index_info, f"{{{z}}}set", name=name, identifier=identifier)
    for context_set, name, index_title in indexes:
        sortable = "true" if (context_set, name) in SORTABLE else "false"
        index = etree.SubElement(index_info, f"{{{z}}}index", search="true", scan="false", sort=sortable)
        etree.SubElement(index, f"{{{z}}}title").text = index_title
        mapping = etree.SubElement(index, f"{{{z}}}map")
        etree.SubElement(mapping, f"{{{z}}}name", set=context_set).text = name
    schema_info = etree.SubElement(explain, f"{{{z}}}schemaInfo")
    for schema in schemas:
        element = etree.SubElement(
            schema_info,
            f"{{{z}}}schema",
            identifier=schema.identifier,
            name=schema.name,
            location=schema.location,
            sort="false",
            retrieve="true",
        )
        etree.SubElement(element, f"{{{z}}}title").text = schema.title
    config = etree.SubElement(explain, f"{{{z}}}configInfo")
    etree.SubElement(config, f"{{{z}}}default", type="numberOfRecords").text = str(default_records)
    etree.SubElement(config, f"{{{z}}}default", type="contextSet").text = "cql"
    etree.SubElement(config, f"{{{z}}}default", type="index").text = "cql.serverChoice"
    etree.SubElement(config, f"{{{z}}}default", type="relation").text = "="
    etree.SubElement(config, f"{{{z}}}setting", type="maximumRecords").text = str(max_records)
    for relation in ("=", "==", "all", "any", "adj", "<", ">", "<=", ">=", "within"):
        etree.SubElement(config, f"{{{z}}}supports", type="relation").text = relation
    for boolean in ("and", "or", "not"):
        etree.SubElement(config, f"{{{z}}}supports", type="booleanOperator").text = boolean
    etree.SubElement(config, f"{{{z}}}supports", type="maskingCharacter").text = "*"
    env.record(root, ZEEREX_SCHEMA, explain, None, packing)
    return serialise(root)

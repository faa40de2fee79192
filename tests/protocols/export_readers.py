"""Reading each export back with a library that is not ours: what a reference manager or an ILS sees."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import bibtexparser
import pymarc
import rispy
from bibtexparser import middlewares
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from lxml import etree

DC = "http://purl.org/dc/elements/1.1/"
# citeproc-py 0.11 bundles only this Harvard style (harvard1 was dropped from its package data)
CSL_STYLE = "harvard-cite-them-right"


@dataclass
class ReadBack:
    """What a reader found: the title, the authors as it lists them, the year, and the full text."""

    title: str
    authors: list[str]
    year: str | None
    text: str


def read_marc(records: list[pymarc.Record]) -> ReadBack:
    [record] = records
    title = record["245"]["a"] if record["245"] else ""
    authors = [f["a"] for f in record.get_fields("100", "700")]
    year = next((f["c"] for f in record.get_fields("264", "260") if f["c"]), None)
    text = " ".join(f.value() for f in record.get_fields())
    return ReadBack(title, authors, year, text)


def read_marcxml(body: bytes) -> ReadBack:
    return read_marc(pymarc.parse_xml_to_array(io.BytesIO(body)))


def read_iso2709(body: bytes) -> ReadBack:
    return read_marc(list(pymarc.MARCReader(body, to_unicode=True, force_utf8=True)))


def read_dc(body: bytes) -> ReadBack:
    root = etree.fromstring(body)
    return ReadBack(
        root.findtext(f"{{{DC}}}title") or "",
        [c.text or "" for c in root.iterfind(f"{{{DC}}}creator")],
        root.findtext(f"{{{DC}}}date"),
        " ".join(root.itertext()),
    )


def read_ris(body: bytes) -> ReadBack:
    [entry] = rispy.loads(body.decode("utf-8"))
    return ReadBack(
        entry["title"], entry.get("authors", []), entry.get("year"), json.dumps(entry, ensure_ascii=False)
    )


def read_bibtex(body: bytes) -> ReadBack:
    library = bibtexparser.parse_string(
        body.decode("utf-8"),
        append_middleware=[middlewares.LatexDecodingMiddleware(), middlewares.SeparateCoAuthors()],
    )
    assert not library.failed_blocks
    [entry] = library.entries
    fields = {f.key: f.value for f in entry.fields}
    return ReadBack(
        fields["title"], fields.get("author", []), fields.get("year"), json.dumps(fields, ensure_ascii=False)
    )


def read_csl(body: bytes) -> ReadBack:
    """The CSL-JSON item, and the bibliography entry citeproc-py renders of it with a bundled style."""
    items = json.loads(body)
    [item] = items
    bibliography = CitationStylesBibliography(
        CitationStylesStyle(CSL_STYLE, validate=False), CiteProcJSON(items), formatter.plain
    )
    bibliography.register(Citation([CitationItem(item["id"])]))
    rendered = "".join(str(entry) for entry in bibliography.bibliography())
    authors = [
        f"{a['family']}, {a['given']}" if "given" in a else a["family"] for a in item.get("author", [])
    ]
    year = str(item["issued"]["date-parts"][0][0]) if "issued" in item else None
    return ReadBack(item.get("title", ""), authors, year, rendered)


READERS = {
    "marcxml": read_marcxml,
    "marc": read_iso2709,
    "dc": read_dc,
    "ris": read_ris,
    "bibtex": read_bibtex,
    "csl-json": read_csl,
}

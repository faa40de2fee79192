"""Reading each export back with a library that is not ours: what a reference manager or an ILS sees."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass

import bibtexparser
import pymarc
import rispy
from bibtexparser import middlewares
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from lxml import etree

DC = "http://purl.org/dc/elements/1.1/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
# citeproc-py 0.11 bundles only this Harvard style (harvard1 was dropped from its package data)
CSL_STYLE = "harvard-cite-them-right"


@dataclass
class ReadBack:
    """What a reader found: the title, the authors as it lists them, the year, and the full text."""

    title: str
    authors: list[str]
    year: str | None
    text: str


def _marc(record: pymarc.Record) -> ReadBack:
    title = record["245"]["a"] if record["245"] else ""
    authors = [f["a"] for f in record.get_fields("100", "700")]
    year = next((f["c"] for f in record.get_fields("264", "260") if f["c"]), None)
    text = " ".join(f.value() for f in record.get_fields())
    return ReadBack(title, authors, year, text)


def read_all_marcxml(body: bytes) -> list[ReadBack]:
    return [_marc(r) for r in pymarc.parse_xml_to_array(io.BytesIO(body))]


def read_all_iso2709(body: bytes) -> list[ReadBack]:
    return [_marc(r) for r in pymarc.MARCReader(body, to_unicode=True, force_utf8=True)]


def _dc(root: etree._Element) -> ReadBack:
    return ReadBack(
        root.findtext(f"{{{DC}}}title") or "",
        [c.text or "" for c in root.iterfind(f"{{{DC}}}creator")],
        root.findtext(f"{{{DC}}}date"),
        " ".join(root.itertext()),
    )


def read_all_dc(body: bytes) -> list[ReadBack]:
    """A standalone ``oai_dc:dc``, or the ``oai_dc:dc`` elements of a result page's collection."""
    root = etree.fromstring(body)
    if root.tag == f"{{{OAI_DC}}}dc":
        return [_dc(root)]
    return [_dc(dc) for dc in root.iterfind(f"{{{OAI_DC}}}dc")]


def read_all_ris(body: bytes) -> list[ReadBack]:
    return [
        ReadBack(e["title"], e.get("authors", []), e.get("year"), json.dumps(e, ensure_ascii=False))
        for e in rispy.loads(body.decode("utf-8"))
    ]


def read_all_bibtex(body: bytes) -> list[ReadBack]:
    library = bibtexparser.parse_string(
        body.decode("utf-8"),
        append_middleware=[middlewares.LatexDecodingMiddleware(), middlewares.SeparateCoAuthors()],
    )
    assert not library.failed_blocks
    out = []
    for entry in library.entries:
        fields = {f.key: f.value for f in entry.fields}
        out.append(
            ReadBack(
                fields["title"],
                fields.get("author", []),
                fields.get("year"),
                json.dumps(fields, ensure_ascii=False),
            )
        )
    return out


def read_all_csl(body: bytes) -> list[ReadBack]:
    """Each CSL-JSON item, and the bibliography entry citeproc-py renders of it with a bundled style."""
    items = json.loads(body)
    style = CitationStylesStyle(CSL_STYLE, validate=False)
    out = []
    for item in items:
        bibliography = CitationStylesBibliography(style, CiteProcJSON([item]), formatter.plain)
        bibliography.register(Citation([CitationItem(item["id"])]))
        rendered = "".join(str(entry) for entry in bibliography.bibliography())
        authors = [
            f"{a['family']}, {a['given']}" if "given" in a else a["family"] for a in item.get("author", [])
        ]
        year = str(item["issued"]["date-parts"][0][0]) if "issued" in item else None
        out.append(ReadBack(item.get("title", ""), authors, year, rendered))
    return out


def _one(read_all: Callable[[bytes], list[ReadBack]]) -> Callable[[bytes], ReadBack]:
    def read(body: bytes) -> ReadBack:
        [back] = read_all(body)
        return back

    return read


READ_ALL = {
    "marcxml": read_all_marcxml,
    "marc": read_all_iso2709,
    "dc": read_all_dc,
    "ris": read_all_ris,
    "bibtex": read_all_bibtex,
    "csl-json": read_all_csl,
}
READERS = {name: _one(read_all) for name, read_all in READ_ALL.items()}

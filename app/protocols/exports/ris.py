"""A record as RIS (``application/x-research-info-systems``), the tagged format every reference manager
imports (EndNote, Zotero, Mendeley). Written by hand: the format is a line per field."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.record import Record

from .citation import full_title, inverted_name, language_tag, one_line

MEDIA_TYPE = "application/x-research-info-systems"

RIS_TYPES = {
    "book": "BOOK",
    "thesis": "THES",
    "article": "JOUR",
    "report": "RPRT",
    "conference": "CONF",
    "journal": "JFULL",
    "dataset": "DATA",
    "other": "GEN",
}


def to_ris(record: Record, links: Sequence[str] = ()) -> bytes:
    """One RIS reference, UTF-8 with CRLF line ends as the format's specification writes them."""
    lines: list[tuple[str, str]] = [("TY", RIS_TYPES.get(record.type, "GEN"))]

    def add(tag: str, value: str | None) -> None:
        if value and value.strip():
            lines.append((tag, one_line(value)))

    add("ID", record.id)
    add("TI", full_title(record))
    for author in record.authors:
        add("AU", inverted_name(author))
    add("PY", str(record.year) if record.year else None)
    add("PB", record.publisher)
    add("AB", record.abstract)
    for subject in record.subjects:
        add("KW", subject)
    add("LA", language_tag(record.language))
    ids = record.identifiers
    for value in [*ids.isbn, *ids.issn]:
        add("SN", value)
    for value in ids.doi:
        add("DO", value)
    for url in dict.fromkeys([*links, *ids.urls]):
        add("UR", url)
    lines.append(("ER", ""))
    return "".join(f"{tag}  - {value}\r\n" for tag, value in lines).encode("utf-8")

"""A record as a BibTeX entry (``application/x-bibtex``), UTF-8 as biber and bibtexparser read it.

Values keep their Unicode letters (Vietnamese diacritics are not turned into LaTeX accents, which
BibTeX styles handle badly for stacked marks like "ệ"); only the characters that break LaTeX or the
entry itself are escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from schemas.record import Record

from .citation import ascii_fold, full_title, inverted_name, language_tag, one_line, split_name

MEDIA_TYPE = "application/x-bibtex"

BIBTEX_TYPES = {
    "book": "book",
    "thesis": "mastersthesis",
    "article": "article",
    "report": "techreport",
    "conference": "inproceedings",
    "journal": "misc",
    "dataset": "misc",
    "other": "misc",
}
_DOCTORAL = re.compile(r"luận án|tiến sĩ|doctor|ph\.?d", re.IGNORECASE)
_LATEX_SPECIAL = re.compile(r"([&%$#_])")


def bibtex_key(record: Record) -> str:
    """A readable, ASCII citation key: first author's family name, year, and the record id's tail."""
    family = split_name(record.authors[0])[0] if record.authors else (record.title or "record")
    stem = re.sub(r"[^a-z0-9]", "", ascii_fold(family).lower())[:20] or "record"
    return f"{stem}{record.year or ''}-{record.id.rsplit('-', 1)[-1][:8]}"


def _value(text: str) -> str:
    """A field value in braces: LaTeX specials escaped, unbalanced braces made literal."""
    text = _LATEX_SPECIAL.sub(r"\\\1", one_line(text))
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        text = text.replace("{", "(").replace("}", ")")
    return "{" + text + "}"


def to_bibtex(record: Record, links: Sequence[str] = ()) -> bytes:
    entry_type = BIBTEX_TYPES.get(record.type, "misc")
    if record.type == "thesis" and _DOCTORAL.search(" ".join(filter(None, [record.title, record.subtitle]))):
        entry_type = "phdthesis"
    fields: list[tuple[str, str | None]] = [
        ("title", full_title(record)),
        ("author", " and ".join(inverted_name(a) for a in record.authors) or None),
        ("year", str(record.year) if record.year else None),
        # where a thesis was defended or a report issued, BibTeX wants the school or institution
        (
            {"thesis": "school", "report": "institution"}.get(record.type, "publisher"),
            record.publisher,
        ),
        ("abstract", record.abstract),
        ("keywords", ", ".join(record.subjects) or None),
        ("language", language_tag(record.language)),
        ("isbn", ", ".join(record.identifiers.isbn) or None),
        ("issn", ", ".join(record.identifiers.issn) or None),
        ("doi", record.identifiers.doi[0] if record.identifiers.doi else None),
        ("url", next(iter([*links, *record.identifiers.urls]), None)),
    ]
    body = ",\n".join(f"  {name} = {_value(value)}" for name, value in fields if value)
    return f"@{entry_type}{{{bibtex_key(record)},\n{body}\n}}\n".encode()

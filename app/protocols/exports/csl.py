"""A record as CSL-JSON (``application/vnd.citationstyles.csl+json``): the input of citeproc
processors (Zotero, Pandoc, citeproc-js, citeproc-py), a list of one item."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from schemas.record import Record

from .citation import full_title, language_tag, split_name

MEDIA_TYPE = "application/vnd.citationstyles.csl+json"

CSL_TYPES = {
    "book": "book",
    "thesis": "thesis",
    "article": "article-journal",
    "report": "report",
    "conference": "paper-conference",
    "journal": "periodical",
    "dataset": "dataset",
    "other": "document",
}


def csl_item(record: Record, links: Sequence[str] = ()) -> dict[str, Any]:
    """The record as one CSL-JSON item."""
    item: dict[str, Any] = {"id": record.id, "type": CSL_TYPES.get(record.type, "document")}
    title = full_title(record)
    if title:
        item["title"] = title
    authors = []
    for name in record.authors:
        family, given = split_name(name)
        authors.append({"family": family, "given": given} if given else {"family": family})
    if authors:
        item["author"] = authors
    if record.year:
        item["issued"] = {"date-parts": [[record.year]]}
    optional: dict[str, Any] = {
        "publisher": record.publisher,
        "abstract": record.abstract,
        "keyword": ", ".join(record.subjects) or None,
        "language": language_tag(record.language),
        "ISBN": record.identifiers.isbn[0] if record.identifiers.isbn else None,
        "ISSN": record.identifiers.issn[0] if record.identifiers.issn else None,
        "DOI": record.identifiers.doi[0] if record.identifiers.doi else None,
        "URL": next(iter([*links, *record.identifiers.urls]), None),
    }
    item.update({key: value for key, value in optional.items() if value})
    return item


def to_csl_json(record: Record, links: Sequence[str] = ()) -> bytes:
    return json.dumps([csl_item(record, links)], ensure_ascii=False, indent=2).encode()


def join_csl_json(documents: Sequence[bytes]) -> bytes:
    """One CSL-JSON list of the items of several."""
    items = [item for document in documents for item in json.loads(document)]
    return json.dumps(items, ensure_ascii=False, indent=2).encode()

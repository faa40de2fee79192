"""Dublin Core (``oai_dc``) metadata to :class:`~schemas.record.Record`: pure functions, no I/O.

Matching is by local name, so the namespace quirks real repositories show all read the same:
``oai_dc``/``dc`` declared on the OAI-PMH root or on ``<record>``, or no namespace at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import cast

from lxml import etree

from schemas.record import Identifiers, Record

from .normalise import (
    classify_identifier,
    classify_repeated,
    extract_year,
    language_code,
    nfc,
    nfc_repeated,
    record_type,
)
from .oai.protocol import Header
from .xml import LOCAL_NAMES, tag_local_name

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")
_ID_KINDS = {"isbn": "isbn", "issn": "issn", "doi": "doi", "handle": "handle", "url": "urls"}


def _texts(values: Iterable[str | None], normal: Callable[[str], str | None] = nfc) -> list[str]:
    """The distinct non-empty normal forms of ``values`` (``normal`` is ``nfc`` or ``nfc_repeated``)."""
    out: list[str] = []
    for value in values:
        cleaned = normal(value) if value else None
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return out


def dc_fields(dc: etree._Element) -> dict[str, list[str]]:
    """Every Dublin Core element's text under ``dc``, by local name, in document order."""
    fields: dict[str, list[str]] = {}
    for child in dc:
        tag = child.tag
        name = LOCAL_NAMES.get(tag)
        if name is None:
            name = tag_local_name(tag)
        if name:
            # a leaf element's text is all there is (``len`` counts comments and PIs too); only mixed
            # content needs the slower ``itertext`` walk
            # (lxml gives text as ``str`` under Python 3; its stubs also allow ``bytes``)
            text = (child.text or "") if len(child) == 0 else "".join(cast(Iterator[str], child.itertext()))
            found = fields.get(name)
            if found is None:
                fields[name] = [text]
            else:
                found.append(text)
    return fields


def publication_year(dates: Iterable[str]) -> int | None:
    """The year of publication among ``dc:date`` values.

    DSpace lists its accession/availability timestamps (``2022-02-24T20:08:20Z``) before the issue
    date (``1984-10``), so a value that is not a full timestamp wins; a timestamp is the fallback.
    """
    fallback = None
    for value in dates:
        year = extract_year(value)
        if not year:
            continue
        if not _TIMESTAMP.match(value.strip()):
            return year
        fallback = fallback or year
    return fallback


def record_from_dc(dc: etree._Element, header: Header, member: str) -> Record:
    """A Record from an ``oai_dc:dc`` element (or a namespace-less ``<dc>``) and its header."""
    fields = dc_fields(dc)
    get = fields.get
    titles = _texts(get("title", ()))
    found_ids: dict[str, list[str]] = {}
    for source in ("identifier", "relation", "source"):
        values = get(source)
        if values is None:
            continue
        # a relation or source (the journal an article is in) recurs record after record
        classify = classify_identifier if source == "identifier" else classify_repeated
        for value in values:
            found = classify(value)
            if found is None:
                continue
            bucket = found_ids.setdefault(_ID_KINDS[found[0]], [])
            if found[1] not in bucket:
                bucket.append(found[1])
    year = publication_year(get("date", ()))
    language = None
    for value in get("language", ()):
        language = language_code(value)
        if language:
            break
    descriptions = _texts(get("description", ()))
    publishers = _texts(get("publisher", ()), nfc_repeated)
    creators = get("creator", [])
    contributors = get("contributor")
    return Record(
        member=member,
        oai_identifier=header.identifier,
        datestamp=header.datestamp,
        title=titles[0] if titles else None,
        authors=_texts(creators + contributors if contributors else creators, nfc_repeated),
        subjects=_texts(get("subject", ()), nfc_repeated),
        abstract="\n\n".join(descriptions) or None,
        publisher=publishers[0] if publishers else None,
        year=year,
        language=language,
        type=record_type(_texts(get("type", ()), nfc_repeated)),
        identifiers=Identifiers(**found_ids),
        raw_format="oai_dc",
        raw=etree.tostring(dc, encoding="unicode", with_tail=False),
    )

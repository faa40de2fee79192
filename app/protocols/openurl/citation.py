"""A citation from an OpenURL's key/value pairs: Z39.88-2004 KEV (``rft.isbn``, ``rft_id=info:doi/…``)
and the 0.1 style link resolvers still send (``isbn=``, ``id=doi:…``, ``aulast=``).

Link resolvers pass on what databases put in them: an identifier that does not validate is set aside
with a warning, so the rest of the citation (another identifier, the title) can still resolve it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel, Field

from schemas.errors import InvalidInput

from ...catalog import IdentifierKind, normalise_identifier

KEV_VERSION = "Z39.88-2004"
MAX_VALUE = 1000

# rft_id / id URIs naming an identifier we resolve (info: URIs of the OpenURL registry, urn:, doi:)
_ID_URI = re.compile(
    r"^(?:info:(?P<info>doi|isbn|issn)/|urn:(?P<urn>isbn|issn):|(?P<short>doi|isbn|issn):\s*"
    r"|(?P<link>https?://(?:dx\.)?doi\.org/))",
    re.IGNORECASE,
)
_KINDS: dict[str, IdentifierKind] = {"doi": "doi", "isbn": "isbn", "issn": "issn"}
_YEAR = re.compile(r"^\s*(\d{4})")
# the keys of each field, 1.0 (``rft.``) and 0.1 alike, first wins
_TITLE_KEYS = ("atitle", "btitle", "title")
_IDENT_KEYS: dict[IdentifierKind, tuple[str, ...]] = {
    "isbn": ("isbn",),
    "issn": ("issn", "eissn"),
    "doi": ("doi",),
}


class Citation(BaseModel):
    """What an OpenURL says about the item it asks for (identifiers in their stored form)."""

    isbn: list[str] = Field(default_factory=list, description="ISBN-13")
    issn: list[str] = Field(default_factory=list, description="NNNN-NNNX (print and electronic)")
    doi: list[str] = Field(default_factory=list)
    title: str | None = Field(None, description="Article, book or item title (atitle, btitle, title)")
    journal: str | None = Field(None, description="jtitle: the journal of an article")
    author: str | None = Field(None, description="au, else aulast with aufirst")
    year: int | None = Field(None, description="The year of date")
    genre: str | None = None
    warnings: list[str] = Field(default_factory=list, description="Parts of the citation set aside")

    @property
    def has_identifier(self) -> bool:
        return bool(self.isbn or self.issn or self.doi)


def _key(name: str) -> str:
    """``rft.isbn`` and ``isbn`` alike (0.1 has no ``rft.`` prefix)."""
    return name[4:] if name.startswith("rft.") else name


def parse_openurl(pairs: Iterable[tuple[str, str]]) -> Citation:
    """The citation of an OpenURL's query; InvalidInput for a version or a value we cannot take."""
    values: dict[str, list[str]] = {}
    for name, value in pairs:
        if len(value) > MAX_VALUE:
            raise InvalidInput(f"{name}: longer than {MAX_VALUE} characters")
        values.setdefault(name, []).append(value.strip())
    version = (values.get("url_ver") or [KEV_VERSION])[0]
    if version and version != KEV_VERSION:
        raise InvalidInput(f"url_ver: {version!r} is not {KEV_VERSION} (OpenURL 1.0); 0.1 links carry none")
    fields: dict[str, list[str]] = {}
    for name, given in values.items():
        fields.setdefault(_key(name), []).extend(v for v in given if v)
    citation = Citation()
    found: dict[IdentifierKind, list[str]] = {"isbn": [], "issn": [], "doi": []}
    for kind, keys in _IDENT_KEYS.items():
        for key in keys:
            found[kind].extend(fields.get(key, []))
    for uri in [*fields.get("rft_id", []), *fields.get("id", [])]:
        match = _ID_URI.match(uri)
        if match is None:
            citation.warnings.append(f"id {uri!r}: not a DOI, ISBN or ISSN URI; set aside")
            continue
        kind = _KINDS[(match["info"] or match["urn"] or match["short"] or "doi").lower()]
        found[kind].append(uri[match.end() :])
    for kind, raw in found.items():
        normalised = []
        for value in raw:
            try:
                normal = normalise_identifier(kind, value)
            except InvalidInput as exc:
                citation.warnings.append(f"{exc.detail}; set aside")
                continue
            if normal not in normalised:
                normalised.append(normal)
        setattr(citation, kind, normalised)
    citation.title = next((fields[k][0] for k in _TITLE_KEYS if fields.get(k)), None)
    citation.journal = _first(fields, "jtitle", "stitle")
    citation.author = _author(fields)
    citation.genre = _first(fields, "genre")
    if fields.get("date"):
        year = _YEAR.match(fields["date"][0])
        if year:
            citation.year = int(year.group(1))
        else:
            citation.warnings.append(f"date {fields['date'][0]!r}: no year in it; set aside")
    if not (citation.has_identifier or citation.title or citation.journal):
        detail = "nothing to resolve: give rft.isbn, rft.issn, rft_id=info:doi/…, or a title (rft.btitle, …)"
        if citation.warnings:
            detail += " (" + "; ".join(citation.warnings) + ")"
        raise InvalidInput(detail)
    return citation


def _first(fields: dict[str, list[str]], *keys: str) -> str | None:
    return next((fields[k][0] for k in keys if fields.get(k)), None)


def _author(fields: dict[str, list[str]]) -> str | None:
    if fields.get("au"):
        return fields["au"][0]
    last = _first(fields, "aulast")
    first = _first(fields, "aufirst", "auinit")
    if last:
        return f"{last}, {first}" if first else last
    return None

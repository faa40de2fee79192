"""What kind of identifier a line of a reading list is (ISBN, ISSN or DOI), and its stored form.

A list pasted from a reference manager or an ILS mixes forms: ``978-604-908-641-0``, ``6049086419``,
``ISBN 604 908 641 9``, ``urn:isbn:…``, ``ISSN 1859-3100``, ``doi:10.1/x``, ``https://doi.org/10.1/x``.
The kind comes from an explicit prefix when there is one, else from the shape (a DOI starts with
``10.``; eight digits are an ISSN; ten or thirteen an ISBN). Validation and the stored form are
:func:`app.catalog.normalise_identifier`'s, so a batch answers exactly as ``GET /lookup`` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.errors import InvalidInput

from ..catalog import IdentifierKind, normalise_identifier

_PREFIX = re.compile(r"^(?:urn:)?(isbn|issn|eissn|doi)\b[\s:]*", re.IGNORECASE)
_DOI_LINK = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|info:doi/)", re.IGNORECASE)
_COMPACT = re.compile(r"[\s\-\u2010-\u2015]")
MAX_LENGTH = 300


@dataclass(frozen=True)
class Identifier:
    kind: IdentifierKind
    normalised: str


def detect_kind(text: str) -> tuple[IdentifierKind, str]:
    """The kind of ``text`` and the value without its prefix; InvalidInput when no kind fits."""
    value = text.strip()
    if _DOI_LINK.match(value):
        return "doi", _DOI_LINK.sub("", value)
    prefixed = _PREFIX.match(value)
    if prefixed:
        name = prefixed.group(1).lower()
        rest = value[prefixed.end() :]
        return ("issn" if name == "eissn" else name), rest  # type: ignore[return-value]
    if value.startswith("10."):
        return "doi", value
    compact = _COMPACT.sub("", value)
    if re.fullmatch(r"\d{7}[\dXx]", compact):
        return "issn", value
    if re.fullmatch(r"\d{9}[\dXx]|\d{13}", compact):
        return "isbn", value
    raise InvalidInput(f"{text.strip()!r} is not an ISBN (10 or 13 digits), an ISSN (8) or a DOI (10.…/…)")


def parse_identifier(text: str) -> Identifier:
    """The kind and stored form of one identifier as typed; InvalidInput says what is wrong."""
    if not text.strip():
        raise InvalidInput("empty identifier")
    if len(text) > MAX_LENGTH:
        raise InvalidInput(f"identifier longer than {MAX_LENGTH} characters")
    kind, value = detect_kind(text)
    return Identifier(kind, normalise_identifier(kind, value))

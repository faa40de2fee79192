"""Text analysis shared by the indexer, the query parser and every search backend (pure functions).

Both backends match on strings produced here, never on their own analysers, so Vietnamese folding is
identical everywhere:

* ``normalise(text)``: NFC + casefold.
* ``tokens(text)``: NFC, lower-case, then runs of letters/digits (``[^\\W_]+``); everything else splits.
* ``fold(token)``: NFD, drop combining marks, ``đ`` -> ``d``, NFC (``thư viện`` -> ``thu vien``).
* ``exact_text`` / ``folded_text``: the tokens joined by single spaces (what ``*_exact`` / ``*_folded``
  fields of ``IndexDocument`` hold).

Identifier normalisers (``normalise_isbn`` ...) give the stored form of identifiers: ISBN-13 without
hyphens, ISSN as ``NNNN-NNNX``, DOI lower-case ``10.x/y``; the indexer and the query parser both use them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from stdnum import isbn as _isbn
from stdnum import issn as _issn
from stdnum.exceptions import ValidationError

_TOKEN = re.compile(r"[^\W_]+")
# Letters that carry no combining mark in NFD but still fold to ASCII in Vietnamese usage.
_EXTRA_FOLD = str.maketrans({"đ": "d", "Đ": "D"})
_DOI_PREFIX = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)


def normalise(text: str) -> str:
    """NFC + casefold: the comparison form of a whole string."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def tokens(text: str) -> list[str]:
    """NFC lower-case tokens: runs of letters and digits (anything else separates)."""
    return _TOKEN.findall(unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).lower()))


def fold(token: str) -> str:
    """Remove diacritics (and map ``đ`` to ``d``); the result is NFC."""
    decomposed = unicodedata.normalize("NFD", token)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped.translate(_EXTRA_FOLD))


def exact_text(text: str) -> str:
    """Space-joined exact tokens of ``text``."""
    return " ".join(tokens(text))


def folded_text(text: str) -> str:
    """Space-joined folded tokens of ``text``."""
    return " ".join(fold(t) for t in tokens(text))


def analyse_field(text: str | Iterable[str] | None) -> tuple[str, str]:
    """``(exact, folded)`` analysed strings of a field; a list of values is joined in order."""
    if text is None:
        return "", ""
    joined = text if isinstance(text, str) else " ".join(v for v in text if v)
    exact = tokens(joined)
    return " ".join(exact), " ".join(fold(t) for t in exact)


def folded_tokens(text: str) -> list[str]:
    """Folded tokens of ``text``."""
    return [fold(t) for t in tokens(text)]


def normalise_isbn(value: str) -> str | None:
    """ISBN-10 or -13, with or without hyphens, as a compact ISBN-13; ``None`` when invalid."""
    try:
        compact = _isbn.validate(value.strip())
    except ValidationError:
        return None
    return _isbn.to_isbn13(compact) if len(compact) == 10 else compact


def normalise_issn(value: str) -> str | None:
    """ISSN as ``NNNN-NNNX``; ``None`` when invalid."""
    try:
        return _issn.format(_issn.validate(value.strip()))
    except ValidationError:
        return None


def normalise_doi(value: str) -> str | None:
    """DOI lower-cased without ``doi:`` / ``https://doi.org/``; ``None`` when it is not ``10.x/y``."""
    doi = _DOI_PREFIX.sub("", value.strip()).strip().lower()
    return doi if re.match(r"^10\.\d+/\S+$", doi) else None

"""Text analysis shared by the indexer, the query parser and every search backend (pure functions).

Both backends match on strings produced here, never on their own analysers, so Vietnamese folding is
identical everywhere:

* ``normalise(text)``: NFC + casefold.
* ``tokens(text)``: NFC, lower-case, then runs of letters/digits (``[^\\W_]+``); everything else splits.
* ``fold(token)``: NFD, drop combining marks, ``đ`` -> ``d``, NFC (``thư viện`` -> ``thu vien``).
* ``exact_text`` / ``folded_text``: the tokens joined by single spaces (what ``*_exact`` / ``*_folded``
  fields of ``IndexDocument`` hold).

Identifier normalisers (``normalise_isbn`` ...) come from ``schemas.normal_forms``, the forms the
harvesters store: ISBN-13 without hyphens, ISSN as ``NNNN-NNNX``, DOI lower-case ``10.x/y``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from schemas.normal_forms import normalise_doi, normalise_isbn, normalise_issn
from schemas.text import fold, folded_text, folded_tokens, tokens

__all__ = [
    "analyse_field",
    "exact_text",
    "fold",
    "folded_text",
    "folded_tokens",
    "normalise",
    "normalise_doi",
    "normalise_isbn",
    "normalise_issn",
    "tokens",
]


def normalise(text: str) -> str:
    """NFC + casefold: the comparison form of a whole string."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def exact_text(text: str) -> str:
    """Space-joined exact tokens of ``text``."""
    return " ".join(tokens(text))


def analyse_field(text: str | Iterable[str] | None) -> tuple[str, str]:
    """``(exact, folded)`` analysed strings of a field; a list of values is joined in order."""
    if text is None:
        return "", ""
    joined = text if isinstance(text, str) else " ".join(v for v in text if v)
    exact = tokens(joined)
    return " ".join(exact), " ".join([fold(t) for t in exact])

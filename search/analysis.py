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

import functools
import re
import unicodedata
from collections.abc import Iterable

from schemas.normal_forms import fold_diacritics, normalise_doi, normalise_isbn, normalise_issn

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

_TOKEN = re.compile(r"[^\W_]+")


def normalise(text: str) -> str:
    """NFC + casefold: the comparison form of a whole string."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def tokens(text: str) -> list[str]:
    """NFC lower-case tokens: runs of letters and digits (anything else separates)."""
    return _TOKEN.findall(unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).lower()))


def fold(token: str) -> str:
    """Remove diacritics (and map ``đ`` to ``d``); the result is NFC."""
    # ASCII has nothing to fold (no combining marks, no đ), and most tokens of a catalogue are ASCII.
    return token if token.isascii() else _fold_accented(token)


# Indexing folds every token of every record (about 70 per record, 1.5 µs each through NFD and NFC),
# and a language's syllables repeat record after record: memoised, bounded. Only short strings are
# kept (a token is rarely longer), so the bound also bounds the memory.
_fold_cached = functools.lru_cache(maxsize=1 << 16)(fold_diacritics)


def _fold_accented(token: str) -> str:
    return _fold_cached(token) if len(token) <= 64 else fold_diacritics(token)


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
    return " ".join(exact), " ".join([fold(t) for t in exact])


def folded_tokens(text: str) -> list[str]:
    """Folded tokens of ``text``."""
    return [fold(t) for t in tokens(text)]

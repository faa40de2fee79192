"""Text folding and personal-name forms shared by the store (work clustering) and search (analysis).

Pure functions, here so the store can fold titles and names exactly as search does without importing
``search`` (imports point ``store -> schemas``):

* ``tokens(text)``: NFC, lower-case, then runs of letters/digits (``[^\\W_]+``); everything else splits.
* ``fold(token)``: NFD, drop combining marks, ``đ`` -> ``d``, NFC (``thư viện`` -> ``thu vien``).
* ``folded_text`` / ``folded_tokens``: the folded tokens of a text, joined by single spaces or listed.
* ``name_key(author)``: a person's full folded name in one word order, family name first, so
  ``Nguyen, Van An`` and ``Nguyễn Văn An`` (and ``Smith, John`` and ``John Smith``) agree.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from .normal_forms import fold_diacritics

__all__ = ["VI_FAMILY_NAMES", "fold", "fold_all", "folded_text", "folded_tokens", "name_key", "tokens"]

_TOKEN = re.compile(r"[^\W_]+")


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


class _FoldedTokens(dict[str, str]):
    """Token -> folded token, filled on a miss: looked up from C (``map``), not a call per token."""

    def __missing__(self, token: str) -> str:
        if len(self) >= 1 << 17:  # a bound on the memory: start again (the common ones come back)
            self.clear()
        folded = self[token] = fold(token)
        return folded


_folded_tokens = _FoldedTokens()


def fold_all(tokens: list[str]) -> list[str]:
    """``[fold(t) for t in tokens]``, for the many tokens of a search document: a dictionary lookup
    per token where ``fold`` is three calls."""
    return list(map(_folded_tokens.__getitem__, tokens))


def folded_text(text: str) -> str:
    """Space-joined folded tokens of ``text``."""
    return " ".join(fold(t) for t in tokens(text))


def folded_tokens(text: str) -> list[str]:
    """Folded tokens of ``text``."""
    return [fold(t) for t in tokens(text)]


# The commonest Vietnamese family names (folded). A name without a comma whose first word is one of
# these is in Vietnamese order (family name first); other comma-less names are taken as Western
# ("John Smith"), family name last.
VI_FAMILY_NAMES = frozenset({
    "nguyen", "tran", "le", "pham", "hoang", "huynh", "phan", "vu", "vo", "dang", "bui", "do", "ho",
    "ngo", "duong", "ly", "dinh", "trinh", "truong", "lam", "mai", "cao", "ta", "doan", "luong",
})  # fmt: skip
_LIFE_DATES = re.compile(r"\d{3,4}\s*-\s*(\d{3,4})?")


@functools.lru_cache(maxsize=1 << 14)  # a catalogue names the same people record after record
def name_key(author: str) -> str:
    """``author``'s full folded name, family name first: the same string for both word orders.

    ``Nguyễn, Văn An``, ``Nguyen Van An`` -> ``nguyen van an``; ``Smith, John``, ``John Smith`` ->
    ``smith john``. A heading with a comma is ``family, given``; without one, a name whose first word
    is a common Vietnamese family name is already family-first, any other is taken as Western order
    (family name last). Life dates (``1950-2010``) are left out.
    """
    cleaned = _LIFE_DATES.sub(" ", author)
    family, comma, given = cleaned.partition(",")
    if comma and folded_tokens(family) and folded_tokens(given):
        return " ".join(folded_tokens(family) + folded_tokens(given))
    words = folded_tokens(cleaned)
    if len(words) < 2 or words[0] in VI_FAMILY_NAMES:
        return " ".join(words)
    return " ".join([words[-1], *words[:-1]])

"""Pure normalisation helpers shared by every harvester and importer.

Text comes from many catalogues in many states: Vietnamese diacritics precomposed or decomposed,
identifiers with qualifiers ("(pbk.)"), languages as codes or names in English or Vietnamese. Each
function here takes one messy value and returns the canonical form, or ``None`` when nothing usable
is left. Nothing here does I/O.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

import pycountry

from schemas.normal_forms import (
    doi_url,
    fold_diacritics,
    handle_url,
    normalise_doi,
    normalise_handle,
    normalise_isbn,
    normalise_issn,
)

__all__ = [
    "classify_identifier",
    "classify_repeated",
    "doi_url",
    "extract_year",
    "fold",
    "handle_url",
    "language_code",
    "nfc",
    "nfc_repeated",
    "normalise_doi",
    "normalise_handle",
    "normalise_isbn",
    "normalise_issn",
    "record_type",
]

# ------------------------------------------------------------------------------------------- text

# Format characters that are invisible noise in catalogue data (zero-width space, BOM, soft hyphen,
# word joiner). ZWJ/ZWNJ are kept out of this list on purpose: some scripts need them.
_INVISIBLE = {"\u200b", "\ufeff", "\u00ad", "\u2060"}
_INVISIBLE_RE = re.compile("[" + "".join(sorted(_INVISIBLE)) + "]")
_SPACES = re.compile(r"\s+")
# Unicode category Cc is exactly C0 (U+0000-U+001F), DEL and C1 (U+007F-U+009F), so a regex over those
# ranges matches what ``unicodedata.category(ch) == "Cc"`` does character by character, at a fraction
# of the cost (``nfc`` runs on every text value of every harvested record).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def nfc(text: str | None) -> str | None:
    """Unicode NFC, control characters removed, whitespace collapsed; ``None`` when nothing is left.

    Vietnamese data mixes precomposed ("ệ") and decomposed ("e" + U+0302 + U+0323) letters; NFC makes
    them compare equal. Control characters (C0/C1, e.g. MARC delimiters leaking into text) become
    spaces so that words they separated stay separate.
    """
    if text is None:
        return None
    if not text.isascii():
        # ``normalize`` returns at once for text that already is NFC; ASCII text always is
        text = unicodedata.normalize("NFC", text)
    if text.isprintable():
        # The usual case, one C loop: no control or invisible (format) characters, and no whitespace
        # but " " (every other character ``str.split`` splits on is unprintable), so only runs of
        # spaces and spaces at the ends can need collapsing.
        if "  " in text or text.startswith(" ") or text.endswith(" "):
            return " ".join(text.split()) or None
        return text or None
    text = _INVISIBLE_RE.sub("", text)
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    # ``str.split()`` splits on exactly what ``\s`` matches and drops the ends: collapse and strip
    return " ".join(text.split()) or None


@functools.lru_cache(maxsize=8192)
def nfc_repeated(text: str) -> str | None:
    """:func:`nfc` of a value that recurs record after record (subjects, publishers, names, types).

    Remembered, as ``nfc`` is pure; unique values (titles, abstracts, identifiers) go to :func:`nfc`
    directly so that they never push the repeated ones out.
    """
    return nfc(text)


def fold(text: str | None) -> str:
    """Lower-case, diacritics removed (including đ/Đ -> d), punctuation dropped, single spaces.

    Used for matching (type detection), never for display.
    """
    if not text:
        return ""
    text = fold_diacritics(text).casefold()
    text = re.sub(r"[^\w\s]|_", " ", text)
    return _SPACES.sub(" ", text).strip()


# ------------------------------------------------------------------------------------ identifiers

_URL = re.compile(r"^https?://[^\s/]+\S*$", re.IGNORECASE)
_ISBN_LABEL = re.compile(r"^\s*(?:urn:)?isbn\b[:\s]*", re.IGNORECASE)
_ISSN_LABEL = re.compile(r"^\s*(?:urn:)?(?:e-?|p-?|l-?)?issn\b[:\s]*", re.IGNORECASE)
_ISBN_SHAPE = re.compile(r"^[\d\s-]{9,17}[\dXx]$")
_ISSN_SHAPE = re.compile(r"^\d{4}-\d{3}[\dXx]$")


def classify_identifier(value: str | None) -> tuple[str, str] | None:
    """Decide what a free-text identifier (e.g. ``dc:identifier``) is and normalise it.

    Returns ``(kind, value)`` with kind one of ``isbn``, ``issn``, ``doi``, ``handle``, ``url``, or
    ``None`` for anything else (local call numbers, bare text). Resolver URLs are classified by what
    they resolve: ``http://hdl.handle.net/1721.1/123`` gives ``("handle", "1721.1/123")`` and a
    doi.org URL gives a DOI; callers wanting the link back use :func:`handle_url` / :func:`doi_url`.
    Bare digit strings count as an ISBN only when shaped like one and the check digit is valid; bare
    ISSNs need the hyphenated ``NNNN-NNNX`` form (an 8-digit number alone is too ambiguous).
    """
    text = nfc(value)
    if not text:
        return None
    lowered = text.lower()
    if lowered.startswith(("doi:", "info:doi/")) or "doi.org/" in lowered or lowered.startswith("10."):
        doi = normalise_doi(text)
        return ("doi", doi) if doi else None
    if lowered.startswith(("hdl:", "info:hdl/")) or "hdl.handle.net/" in lowered:
        handle = normalise_handle(text)
        return ("handle", handle) if handle else None
    label = _ISBN_LABEL.match(text)
    if label:
        isbn = normalise_isbn(text[label.end() :])
        return ("isbn", isbn) if isbn else None
    label = _ISSN_LABEL.match(text)
    if label:
        issn = normalise_issn(text[label.end() :])
        return ("issn", issn) if issn else None
    if _URL.match(text):
        return ("url", text)
    if _ISBN_SHAPE.match(text):
        isbn = normalise_isbn(text)
        if isbn:
            return ("isbn", isbn)
    if _ISSN_SHAPE.match(text):
        issn = normalise_issn(text)
        if issn:
            return ("issn", issn)
    return None


@functools.lru_cache(maxsize=4096)
def classify_repeated(value: str) -> tuple[str, str] | None:
    """:func:`classify_identifier` of a value that recurs across records (``dc:source``, ``dc:relation``).

    Remembered, as the function is pure: the journal an article appeared in is named, with its
    ISSN, by every article of that journal.
    """
    return classify_identifier(value)


# --------------------------------------------------------------------------------------- language

# Names catalogues write instead of codes, folded (see ``fold``); values are ISO 639-3.
_LANGUAGE_NAMES = {
    "tieng viet": "vie",
    "viet": "vie",
    "viet nam": "vie",
    "vietnamese": "vie",
    "tieng anh": "eng",
    "tieng phap": "fra",
    "tieng trung": "zho",
    "tieng hoa": "zho",
    "han nom": "zho",
    "tieng nga": "rus",
    "tieng nhat": "jpn",
    "tieng han quoc": "kor",
    "han quoc": "kor",
    "tieng duc": "deu",
    "tieng tay ban nha": "spa",
    "tieng lao": "lao",
    "tieng khmer": "khm",
    "tieng thai": "tha",
}
# Hán (Chinese) and Hàn (Korean) fold to the same word, so they are told apart before folding.
_LANGUAGE_NAMES_EXACT = {"tiếng hán": "zho", "chữ hán": "zho", "tiếng hàn": "kor"}
# Codes that say "no particular language"; ``mul`` (several languages) stays a real answer.
_NO_LANGUAGE = {"und", "zxx", "", "n/a", "none"}


def language_code(value: str | None) -> str | None:
    """ISO 639-3 code for a language code or name, or ``None`` when unknown.

    Accepts ISO 639-1 ("vi"), 639-3 ("vie"), MARC/639-2B ("fre" -> "fra", "ger" -> "deu",
    "chi" -> "zho"), tags with regions ("vi-VN", "en_US"), English names ("Vietnamese") and
    Vietnamese names ("Tiếng Việt").
    """
    if value is None:
        return None
    return _language_code(value)


# A catalogue writes its languages the same few ways in every record, and the pycountry lookups cost
# more than the rest of a record's normalisation, so answers are remembered (the function is pure).
@functools.lru_cache(maxsize=4096)
def _language_code(value: str) -> str | None:
    text = nfc(value)
    if not text:
        return None
    exact = text.lower()
    if exact in _LANGUAGE_NAMES_EXACT:
        return _LANGUAGE_NAMES_EXACT[exact]
    key = fold(text)
    if key in _NO_LANGUAGE:
        return None
    if key in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[key]
    code = re.split(r"[-_\s]", text.strip().lower(), maxsplit=1)[0]
    if re.fullmatch(r"[a-z]{2,3}", code):
        if code in _NO_LANGUAGE:
            return None
        lang = None
        if len(code) == 2:
            lang = pycountry.languages.get(alpha_2=code)
        else:
            lang = pycountry.languages.get(alpha_3=code) or pycountry.languages.get(bibliographic=code)
        if lang is not None:
            return str(lang.alpha_3)
    try:
        return str(pycountry.languages.lookup(text).alpha_3)
    except LookupError:
        return None


# ------------------------------------------------------------------------------------------- year

_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def extract_year(value: str | int | None) -> int | None:
    """The first plausible year (1000..2100) in a date string: "c1998.", "[2005?]", "1998-2001"."""
    if value is None:
        return None
    if isinstance(value, int):
        return value if 1000 <= value <= 2100 else None
    for match in _YEAR.finditer(value):
        year = int(match.group(1))
        if 1000 <= year <= 2100:
            return year
    return None


# ------------------------------------------------------------------------------------ record type

# (type, patterns on folded text); the first type with a match wins, so the more specific come first
# ("Journal article" is an article, "Conference paper" a conference item, a thesis stays a thesis).
_TYPE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("thesis", re.compile(r"thes[ie]s|dissertation|luan van|luan an|khoa luan|do an tot nghiep")),
    ("conference", re.compile(r"conference|proceeding|hoi thao|hoi nghi|ky yeu|symposium")),
    ("article", re.compile(r"article|bai bao|bai viet|bai tap chi|contribution ?to ?journal|preprint")),
    ("report", re.compile(r"report|bao cao|working ?paper|technical ?note")),
    ("dataset", re.compile(r"data ?set|du lieu")),
    ("journal", re.compile(r"journal|periodical|serial|magazine|tap chi|newspaper")),
    ("book", re.compile(r"book|monograph|\bsach\b|giao trinh|textbook")),
)

# MARC leader/06 (type of record) + leader/07 (bibliographic level) for textual material.
_LEADER_TYPES = {"a": "article", "b": "article", "s": "journal", "i": "journal", "m": "book", "c": "book"}


def record_type(values: Iterable[str]) -> str:
    """Map ``dc:type`` values (English, Vietnamese, info:eu-repo vocabulary) or a MARC leader/06-07
    pair ("am", "as", "ab", "mm") to one of ``schemas.record.RECORD_TYPES``; ``other`` otherwise.
    """
    return _record_type(tuple(values))


# Records of one repository repeat the same few type values; folding and matching them is pure.
@functools.lru_cache(maxsize=4096)
def _record_type(values: tuple[str, ...]) -> str:
    folded: list[str] = []
    for value in values:
        if not value:
            continue
        raw = value.strip()
        if re.fullmatch(r"[a-z][a-z ]", raw):  # MARC leader/06-07
            kind, level = raw[0], raw[1]
            if kind in "at":
                return _LEADER_TYPES.get(level, "book")
            continue  # other record types (music, maps, computer files...) say nothing more precise
        # split camelCase ("doctoralThesis") before folding so patterns see words
        folded.append(fold(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", raw)))
    text = " | ".join(folded)
    for kind, pattern in _TYPE_RULES:
        if pattern.search(text):
            return kind
    return "other"

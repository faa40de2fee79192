"""Pure normalisation helpers shared by every harvester and importer.

Text comes from many catalogues in many states: Vietnamese diacritics precomposed or decomposed,
identifiers with qualifiers ("(pbk.)"), languages as codes or names in English or Vietnamese. Each
function here takes one messy value and returns the canonical form, or ``None`` when nothing usable
is left. Nothing here does I/O.
"""

from __future__ import annotations

import functools
import operator
import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import unquote

import pycountry
from stdnum import isbn as _isbn
from stdnum import issn as _issn
from stdnum.exceptions import ValidationError

from schemas.record import Record

__all__ = [
    "classify_identifier",
    "doi_url",
    "extract_year",
    "fold",
    "handle_url",
    "language_code",
    "nfc",
    "normalise_doi",
    "normalise_handle",
    "normalise_isbn",
    "normalise_issn",
    "record_type",
    "work_key",
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
        # ``normalize`` returns at once for text that already is NFC; ASCII text always is, and has
        # none of the invisible characters either
        text = _INVISIBLE_RE.sub("", unicodedata.normalize("NFC", text))
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    # ``str.split()`` splits on exactly what ``\s`` matches and drops the ends: collapse and strip
    return " ".join(text.split()) or None


def fold(text: str | None) -> str:
    """Lower-case, diacritics removed (including đ/Đ -> d), punctuation dropped, single spaces.

    Used for matching keys (``work_key``, type detection), never for display.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.casefold()
    text = re.sub(r"[^\w\s]|_", " ", text)
    return _SPACES.sub(" ", text).strip()


# ------------------------------------------------------------------------------------ identifiers

# A run of digits (with hyphens/spaces between) that could be an ISBN-10/13.
_ISBN_CANDIDATE = re.compile(r"(?<![\dXx])(?:97[89][\s-]?)?\d(?:[\s-]?\d){8}[\s-]?[\dXx](?![\dXx])")
_ISSN_CANDIDATE = re.compile(r"(?<!\d)(\d{4})\s?[-\u2010-\u2015]?\s?(\d{3}[\dXx])(?![\dXx])")


def normalise_isbn(value: str | None) -> str | None:
    """The ISBN-13 (digits only) in ``value``, or ``None`` when there is no valid one.

    Accepts ISBN-10 and ISBN-13 with hyphens or spaces, an "ISBN" prefix and trailing qualifiers such
    as "(pbk.)" or ": 45000 VND". The check digit is verified with python-stdnum, so a mistyped ISBN
    is rejected instead of linking unrelated books.
    """
    if not value:
        return None
    for match in _ISBN_CANDIDATE.finditer(value):
        candidate = _SEPARATORS.sub("", match.group(0))
        if candidate.isascii():
            found = _ascii_isbn13(candidate.upper())
            if found is not None:
                return found
            continue
        try:  # non-ASCII digits (``\d`` matches them): leave the judgement to python-stdnum
            return _isbn.to_isbn13(_isbn.validate(candidate))
        except ValidationError:
            continue
    return None


_SEPARATORS = re.compile(r"[\s-]")


def _ean_check_digit(digits: str) -> str:
    """The EAN-13 check digit of 12 ASCII digits (weights 1, 3, 1, 3... from the left)."""
    total = sum(map(int, digits[0::2])) + 3 * sum(map(int, digits[1::2]))
    return str(-total % 10)


def _ascii_isbn13(candidate: str) -> str | None:
    """``stdnum.isbn.to_isbn13(stdnum.isbn.validate(candidate))`` for an upper-case ASCII candidate
    without separators, or ``None`` where stdnum raises.

    The same rules as python-stdnum (ISBN-10 mod-11 check, ISBN-13 EAN check and 978/979 prefix),
    written out because stdnum's general-purpose cleaning made ISBN checking a quarter of the time
    spent parsing a Dublin Core record. Compared with stdnum on a million random candidates when written.
    """
    if len(candidate) == 10:
        body = candidate[:9]
        if not body.isdigit():
            return None
        check = sum(map(operator.mul, range(1, 10), map(int, body))) % 11
        if candidate[9] != ("X" if check == 10 else str(check)):
            return None
        body13 = "978" + body
        return body13 + _ean_check_digit(body13)
    if len(candidate) == 13:
        if not candidate.isdigit() or candidate[:3] not in ("978", "979"):
            return None
        return candidate if _ean_check_digit(candidate[:12]) == candidate[12] else None
    # other lengths cannot come out of ``_ISBN_CANDIDATE``; stdnum decides, as before
    try:
        return str(_isbn.to_isbn13(_isbn.validate(candidate)))
    except ValidationError:
        return None


def normalise_issn(value: str | None) -> str | None:
    """The ISSN in ``value`` as ``NNNN-NNNX`` (check digit verified), or ``None``."""
    if not value:
        return None
    for match in _ISSN_CANDIDATE.finditer(value):
        try:
            return _issn.format(_issn.validate(match.group(1) + match.group(2)))
        except ValidationError:
            continue
    return None


_DOI_PREFIX = re.compile(
    r"^(?:doi:\s*|info:doi/|https?://(?:dx\.|www\.)?doi\.org/|(?:dx\.)?doi\.org/)", re.IGNORECASE
)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


def normalise_doi(value: str | None) -> str | None:
    """A DOI as lower-case ``10.prefix/suffix``, from "doi:...", "info:doi/...", doi.org URLs or bare.

    DOIs are case-insensitive, so lower-case is canonical; URL escapes ("%2F") are decoded.
    """
    if not value:
        return None
    text = value.strip()
    text = _DOI_PREFIX.sub("", text, count=1).strip()
    text = unquote(text).lower().rstrip(".,;")
    return text if _DOI.match(text) else None


_HANDLE_PREFIX = re.compile(
    r"^(?:hdl:\s*|info:hdl/|https?://hdl\.handle\.net/|hdl\.handle\.net/)", re.IGNORECASE
)
_HANDLE = re.compile(r"^\d+(?:\.\d+)*/[^\s?#]+$")


def normalise_handle(value: str | None) -> str | None:
    """A CNRI handle ``prefix/suffix`` from "hdl:...", "info:hdl/...", hdl.handle.net URLs or bare.

    A bare ``10.x/y`` is a DOI, not a handle, and gives ``None`` (use :func:`normalise_doi`).
    Query strings of resolver URLs ("?locatt=...") are dropped.
    """
    if not value:
        return None
    text = value.strip()
    prefixed = _HANDLE_PREFIX.match(text) is not None
    text = _HANDLE_PREFIX.sub("", text, count=1)
    text = re.split(r"[?#]", text, maxsplit=1)[0].rstrip("/.,;")
    if not _HANDLE.match(text):
        return None
    if text.startswith("10.") and not prefixed:
        return None
    return text


def doi_url(doi: str) -> str:
    """The resolver URL of a normalised DOI."""
    return f"https://doi.org/{doi}"


def handle_url(handle: str) -> str:
    """The resolver URL of a normalised handle."""
    return f"https://hdl.handle.net/{handle}"


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
    if _ISBN_LABEL.match(text):
        isbn = normalise_isbn(_ISBN_LABEL.sub("", text))
        return ("isbn", isbn) if isbn else None
    if _ISSN_LABEL.match(text):
        issn = normalise_issn(_ISSN_LABEL.sub("", text))
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


# --------------------------------------------------------------------------------------- work key

# The commonest Vietnamese family names (folded). A name without a comma whose first word is one of
# these is in Vietnamese order (family name first); other comma-less names are taken as Western
# ("John Smith"), family name last.
_VI_FAMILY = {
    "nguyen", "tran", "le", "pham", "hoang", "huynh", "phan", "vu", "vo", "dang", "bui", "do", "ho",
    "ngo", "duong", "ly", "dinh", "trinh", "truong", "lam", "mai", "cao", "ta", "doan", "luong",
}  # fmt: skip


def _family_name(author: str) -> str:
    """The folded family name of a heading: before the comma, else by word order (see ``_VI_FAMILY``)."""
    if "," in author:
        return fold(author.split(",", 1)[0])
    words = fold(re.sub(r"\d{3,4}\s*-\s*(\d{3,4})?", " ", author)).split()
    if not words:
        return ""
    if words[0] in _VI_FAMILY or len(words) == 1:
        return words[0]
    return words[-1]


def work_key(record: Record) -> str:
    """A key shared by the same work held by different members, for grouping search results.

    ISBN-13 ("isbn:..."), else ISSN ("issn:..."), else DOI ("doi:..."); without identifiers the folded
    title, first author's family name and year: "t:<title>|<family>|<year>". The smallest identifier
    is used so members listing a book's ISBNs in different orders still agree. A record with no title
    and no identifier gets a key of its own ("id:<record id>") rather than merging with every other
    untitled record.
    """
    ids = record.identifiers
    if ids.isbn:
        return "isbn:" + min(ids.isbn)
    if ids.issn:
        return "issn:" + min(ids.issn)
    if ids.doi:
        return "doi:" + min(ids.doi)
    title = fold(record.title)
    if not title:
        return "id:" + record.id
    family = _family_name(record.authors[0]) if record.authors else ""
    year = str(record.year) if record.year else ""
    return f"t:{title}|{family}|{year}"

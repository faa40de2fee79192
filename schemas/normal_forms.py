"""Canonical forms shared by ingest and search: diacritic folding and ISBN/ISSN/DOI/handle normalisers.

The harvesters store identifiers in these forms and the query parser turns what a researcher types into
the same forms, so ``isbn:604-908-641-9`` finds a record whose member wrote ``ISBN 978-604-908-641-0
(pbk.)``. Pure functions; python-stdnum decides what a valid ISBN or ISSN is.
"""

from __future__ import annotations

import operator
import re
import unicodedata
from urllib.parse import unquote

from stdnum import isbn as _isbn
from stdnum import issn as _issn
from stdnum.exceptions import ValidationError

# Letters that carry no combining mark in NFD but fold to ASCII in Vietnamese usage.
_EXTRA_FOLD = str.maketrans({"đ": "d", "Đ": "D"})


def fold_diacritics(text: str) -> str:
    """``text`` without diacritics (``đ`` -> ``d`` too), in NFC: ``Thư viện`` -> ``Thu vien``."""
    decomposed = unicodedata.normalize("NFD", text.translate(_EXTRA_FOLD))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


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

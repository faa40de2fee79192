"""Known items typed in the search box: a bare ISBN, ISSN or DOI finds the items carrying it.

Researchers paste identifiers without the ``isbn:`` / ``issn:`` / ``doi:`` field names: an ISBN-10 or
ISBN-13 with or without hyphens or spaces (``978-604-908-641-0``, ``604 908 641 9``), an ISSN
(``1859-218X``), a DOI bare, as ``doi:...`` or as a ``https://doi.org/...`` URL. Read as words they
match nothing useful (``978``, ``604`` ...). A whole query that is one valid identifier (check digit
verified, so a year range or a phone number is not taken for one) becomes the keyword query.
"""

from __future__ import annotations

import re

from .analysis import normalise_doi, normalise_isbn, normalise_issn
from .query_ast import Keyword, ParsedQuery

#: Digits, X, and the separators an ISBN is written with; 10 or 13 characters once they are removed.
_ISBN_LIKE = re.compile(r"^(?:isbn[\s:]*)?([0-9][0-9\s-]{8,20}[0-9Xx])$", re.IGNORECASE)
_ISSN_LIKE = re.compile(r"^(?:issn[\s:]*)?(\d{4}-?\d{3}[\dXx])$", re.IGNORECASE)
_DOI_LIKE = re.compile(
    r"^(?:doi:\s*|https?://(?:dx\.|www\.)?doi\.org/|(?:dx\.)?doi\.org/)?10\.\d{4,9}/\S+$", re.IGNORECASE
)


def known_item(q: str) -> Keyword | None:
    """The identifier a whole query is (as the keyword it is searched by), or ``None``."""
    text = q.strip()
    if not text or len(text) > 300:
        return None
    if (m := _ISBN_LIKE.match(text)) is not None:
        digits = re.sub(r"[\s-]", "", m.group(1))
        if len(digits) in (10, 13) and (isbn := normalise_isbn(digits)) is not None:
            return Keyword("isbn", isbn)
    if (m := _ISSN_LIKE.match(text)) is not None and (issn := normalise_issn(m.group(1))) is not None:
        return Keyword("issn", issn)
    if _DOI_LIKE.match(text) and (doi := normalise_doi(text)) is not None:
        return Keyword("doi", doi)
    return None


def known_item_query(q: str) -> ParsedQuery | None:
    """The query of a known item typed in the box (``known_item``), or ``None``."""
    keyword = known_item(q)
    return None if keyword is None else ParsedQuery(root=keyword, text=q)

"""The parsed form of a search query, compiled by each backend into its own query language.

Text in ``Term`` is already analysed: ``exact`` holds NFC lower-case tokens, ``folded`` the same tokens
with diacritics removed (``đ`` -> ``d``). Backends match on ``folded`` for recall and boost ``exact``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias, get_args

#: Fields a user can name in a query (``title:`` ...), and what they search.
TextField = Literal["any", "title", "author", "subject"]
KeywordField = Literal["isbn", "issn", "doi", "member", "type", "lang"]

#: A field name as typed, to its ``TextField`` (the parser and autocomplete receive plain strings).
TEXT_FIELD: dict[str, TextField] = {name: name for name in get_args(TextField)}


@dataclass(frozen=True)
class Term:
    """Words or a quoted phrase in a text field. Unquoted words all have to match (in any order)."""

    field: TextField
    exact: tuple[str, ...]
    folded: tuple[str, ...]
    phrase: bool = False
    prefix: bool = False  # last token is a prefix (``comput*``)
    #: Typo tolerance (``search.fuzzy``): per folded token, how many edits (Damerau: a swap of two
    #: neighbours is one) a matching indexed token may be away; empty (as parsed) means none.
    fuzzy: tuple[int, ...] = ()


@dataclass(frozen=True)
class Keyword:
    """An exact value of an identifier or code field (already normalised: ISBN-13, ISSN, DOI...)."""

    field: KeywordField
    value: str


@dataclass(frozen=True)
class YearRange:
    """``year:2015..2020`` (inclusive); either end may be open."""

    start: int | None
    end: int | None


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class MatchAll:
    """The empty query: everything (filters and facets still apply)."""


Node: TypeAlias = Term | Keyword | YearRange | And | Or | Not | MatchAll


@dataclass(frozen=True)
class ParsedQuery:
    """A parsed query plus what ranking needs: the positive free-text terms in order."""

    root: Node
    text: str
    positive_terms: tuple[Term, ...] = field(default=())
    #: A corrected query (``search.fuzzy``) keeps the query as typed here: documents matching it rank
    #: above every document matched only by correction (``semantics.AS_TYPED_BOOST``).
    as_typed: Node | None = None

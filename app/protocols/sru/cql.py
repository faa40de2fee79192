"""CQL (the Contextual Query Language of SRU) read by the ``cql-parser`` package and translated into
Lienhop's own query language (``search/query.py``: ``field:value``, phrases, AND/OR/NOT, ``year:a..b``).

Indexes: ``cql.serverChoice`` (and a bare term; also ``cql.anywhere``, ``dc.anywhere``) searches every
text field; ``dc.title``, ``dc.creator`` (``dc.author``), ``dc.subject``; ``dc.date`` (years);
``bath.isbn``, ``bath.issn``; ``dc.identifier`` (an ISBN, ISSN or DOI, by its shape); ``dc.type``
(our record types), ``dc.language`` (ISO 639-3); ``rec.identifier`` (a work or record id: answered
from the store, as the index knows no ids, so only alone or or-ed with others).

Relations on words: ``=`` and ``adj`` (the words as a phrase, as CQL 1.2 reads ``=`` for several
words), ``==`` (the phrase: the index has no whole-field match, so the closest it can do), ``all``
(every word), ``any`` (one of them). On ``dc.date``: ``=``, ``==``, ``<``, ``>``, ``<=``, ``>=``,
``within "2015 2020"``, ``any "2015 2016"``. A ``*`` ending a word is a prefix search; other masking
is diagnostic 28. ``sortBy dc.date`` (``/sort.descending``) and ``sortBy dc.title`` set the order.
Unquoted words with nothing of CQL in them (``thư viện số``), which strict CQL refuses, are read as
``cql.serverChoice all "thư viện số"``: what someone typing them into a search box means.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from cql.lexer import CQLLexer
from cql.parser import CQLParser12, CQLSearchClause, CQLTriple

from schemas.errors import InvalidInput
from schemas.search import SortOrder
from schemas.text import tokens

from ...catalog import normalise_identifier
from ..identifiers import detect_kind
from . import diagnostics as d
from .diagnostics import SruDiagnostic

# The package logs every syntax error at ERROR level with its parser stack: a user's typo is a
# diagnostic in the answer, not an error in the server's log.
logging.getLogger("cql").setLevel(logging.CRITICAL)

MAX_QUERY = 1000
_TEXT = {
    "cql.serverchoice": None,
    "cql.anywhere": None,
    "dc.anywhere": None,
    "dc.title": "title",
    "dc.creator": "author",
    "dc.author": "author",
    "dc.subject": "subject",
}
_KEYWORD = {"bath.isbn": "isbn", "bath.issn": "issn", "dc.type": "type", "dc.language": "lang"}
_DATE = "dc.date"
_ANY_IDENTIFIER = "dc.identifier"
_RECORD = "rec.identifier"
#: Every index, as explain lists it (set, name, title).
INDEXES = [
    ("cql", "serverChoice", "Any word, in title, authors, subjects, abstract"),
    ("dc", "title", "Title"),
    ("dc", "creator", "Author"),
    ("dc", "subject", "Subject"),
    ("dc", "date", "Year of publication"),
    ("dc", "identifier", "ISBN, ISSN or DOI"),
    ("dc", "type", "Type (book, thesis, article, report, conference, journal, dataset, other)"),
    ("dc", "language", "Language (ISO 639-3, e.g. vie, eng)"),
    ("bath", "isbn", "ISBN"),
    ("bath", "issn", "ISSN"),
    ("rec", "identifier", "Work or record id"),
]
_UNPREFIXED = {name.lower(): f"{s}.{name}".lower() for s, name, _ in INDEXES}
_ALL_INDEXES = {*_TEXT, *_KEYWORD, _DATE, _ANY_IDENTIFIER, _RECORD}
_WORD_RELATIONS = {"=", "adj", "==", "all", "any"}
_DATE_RELATIONS = {"=", "==", "<", ">", "<=", ">=", "within", "any"}
_ID_RELATIONS = {"=", "=="}
_SORTS: dict[tuple[str, bool], SortOrder] = {
    ("dc.date", False): "year_asc",
    ("dc.date", True): "year_desc",
    ("dc.title", False): "title",
}
_YEAR = re.compile(r"^\d{1,4}$")
_CQL_SYNTAX = re.compile(r'[=<>()"/]')
_CQL_WORDS = {"and", "or", "not", "prox", "sortby"}


@dataclass
class Translation:
    """A CQL query as our query language, or as record/work ids when it names them (rec.identifier)."""

    query: str = ""
    ids: list[str] = field(default_factory=list)
    sort: SortOrder = "relevance"


class _Parser:
    """One parser built once (building its tables costs milliseconds; a parse, microseconds); a lock
    because the parser keeps its state in the object."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parser: CQLParser12 | None = None

    def parse(self, text: str) -> Any:
        with self._lock:
            if self._parser is None:
                lexer = CQLLexer()
                lexer.build()
                parser = CQLParser12()
                parser.build(lexer)  # type: ignore[arg-type]  # the package's hint names ply's Lexer
                self._parser = parser
            return self._parser.parse(text)


_PARSER = _Parser()


def translate(text: str) -> Translation:
    """The query in our language; :class:`SruDiagnostic` for what CQL or we cannot take."""
    if not text.strip():
        raise SruDiagnostic(d.MANDATORY_PARAMETER, "query")
    if len(text) > MAX_QUERY:
        raise SruDiagnostic(d.QUERY_SYNTAX, text[:50], f"Query longer than {MAX_QUERY} characters")
    try:
        parsed = _PARSER.parse(text)
    except Exception as exc:  # the package raises its own errors, and AttributeError on some inputs
        if _plain_words(text):
            return Translation(query=_words(None, "all", text))
        raise SruDiagnostic(d.QUERY_SYNTAX, text, f"Query syntax error: {exc}") from None
    if parsed is None:
        raise SruDiagnostic(d.QUERY_SYNTAX, text)
    root = parsed.root
    if _misread_words(root) and _plain_words(text):
        return Translation(query=_words(None, "all", text))
    result = Translation(sort=_sort(getattr(root, "sortSpecs", [])))
    ids = _record_ids(root)
    if ids is not None:
        result.ids = ids
    else:
        result.query = _node(root)
    return result


def _plain_words(text: str) -> bool:
    """Words with nothing of CQL's syntax (``thư viện số``): CQL wants them quoted, a person typing
    them into a search box does not, and what they mean is plain (every word, anywhere)."""
    if _CQL_SYNTAX.search(text):
        return False
    return not any(word.lower() in _CQL_WORDS for word in text.split())


def _misread_words(root: Any) -> bool:
    """Three plain words parse as index, relation and term (``thư viện số``): neither is ours."""
    if not isinstance(root, CQLSearchClause) or root.index is None or root.relation is None:
        return False
    relation = str(root.relation.comparitor).lower().removeprefix("cql.")
    known = _index_name(root.index) in _ALL_INDEXES
    return not known and relation not in _DATE_RELATIONS | _WORD_RELATIONS


def _sort(specs: list[Any]) -> SortOrder:
    if not specs:
        return "relevance"
    if len(specs) > 1:
        raise SruDiagnostic(d.SORT_UNSUPPORTED, None, "Sort on one key only")
    spec = specs[0]
    index = _index_name(spec.index)
    names = {str(m.name).lower().removeprefix("sort.") for m in (spec.modifiers or [])}
    descending = "descending" in names
    order = _SORTS.get((index, descending))
    if order is None or names - {"ascending", "descending"}:
        raise SruDiagnostic(
            d.SORT_UNSUPPORTED, str(spec.index), "Sort on dc.date (either way) or dc.title only"
        )
    return order


def _index_name(index: Any) -> str:
    name = str(index if index is not None else "cql.serverChoice").lower()
    return _UNPREFIXED.get(name, name)


def _record_ids(node: Any) -> list[str] | None:
    """The ids of a query made of rec.identifier clauses or-ed together; None for another query."""
    if isinstance(node, CQLSearchClause):
        if _index_name(node.index) != _RECORD:
            return None
        _relation(node, _ID_RELATIONS)
        return [node.term.strip()]
    if isinstance(node, CQLTriple) and str(node.operator.value).lower() == "or":
        left, right = _record_ids(node.left), _record_ids(node.right)
        if left is not None and right is not None:
            return left + right
    if _mentions_record_id(node):
        raise SruDiagnostic(d.UNSUPPORTED_INDEX, _RECORD, "rec.identifier only alone or or-ed with itself")
    return None


def _mentions_record_id(node: Any) -> bool:
    if isinstance(node, CQLSearchClause):
        return _index_name(node.index) == _RECORD
    return _mentions_record_id(node.left) or _mentions_record_id(node.right)


def _node(node: Any) -> str:
    if isinstance(node, CQLTriple):
        op = str(node.operator.value).lower()
        if node.operator.modifiers:
            raise SruDiagnostic(d.UNSUPPORTED_BOOLEAN_MODIFIER, str(node.operator.modifiers[0]))
        left, right = _node(node.left), _node(node.right)
        if op == "and":
            return f"({left}) AND ({right})"
        if op == "or":
            return f"({left}) OR ({right})"
        if op == "not":
            return f"({left}) AND NOT ({right})"
        raise SruDiagnostic(d.UNSUPPORTED_BOOLEAN, op)
    return _clause(node)


def _relation(clause: Any, allowed: set[str]) -> str:
    relation = clause.relation
    name = str(relation.comparitor).lower().removeprefix("cql.") if relation is not None else "="
    if name not in allowed:
        raise SruDiagnostic(
            d.UNSUPPORTED_RELATION, name, f"Unsupported relation {name!r} for {_index_name(clause.index)}"
        )
    if relation is not None and relation.modifiers:
        raise SruDiagnostic(d.UNSUPPORTED_RELATION_MODIFIER, str(relation.modifiers[0]))
    return name


def _clause(clause: Any) -> str:
    index = _index_name(clause.index)
    term: str = clause.term
    if index in _TEXT:
        return _words(_TEXT[index], _relation(clause, _WORD_RELATIONS), term)
    if index == _DATE:
        return _date(_relation(clause, _DATE_RELATIONS), term)
    if index in _KEYWORD or index == _ANY_IDENTIFIER:
        _relation(clause, _ID_RELATIONS)
        value = term.strip()
        if not value:
            raise SruDiagnostic(d.EMPTY_TERM, index)
        if index == _ANY_IDENTIFIER:
            try:
                kind, bare = detect_kind(value)
            except InvalidInput as exc:
                raise SruDiagnostic(d.INVALID_TERM, value, exc.detail) from None
            return f"{kind}:{_identifier(kind, bare)}"
        field_name = _KEYWORD[index]
        if field_name in ("isbn", "issn"):
            return f"{field_name}:{_identifier(field_name, value)}"
        if not re.fullmatch(r"[\w-]+", value):
            raise SruDiagnostic(d.INVALID_TERM, value, f"{index} takes one word")
        return f"{field_name}:{value.lower()}"
    raise SruDiagnostic(d.UNSUPPORTED_INDEX, str(clause.index), f"Unsupported index {clause.index}")


def _identifier(kind: Any, value: str) -> str:
    try:
        return normalise_identifier(kind, value)
    except InvalidInput as exc:
        raise SruDiagnostic(d.INVALID_TERM, value, exc.detail) from None


def _words(field_name: str | None, relation: str, term: str) -> str:
    """A text clause: the term's words (NFC, lower case, diacritics kept for the exact-match boost)."""
    prefix = term.rstrip().endswith("*") and not term.rstrip().endswith("\\*")
    bare = term.rstrip()[:-1] if prefix else term
    if re.search(r"(?<!\\)[*?^]", bare):
        raise SruDiagnostic(d.MASKING_UNSUPPORTED, term, "Only a * ending the term is supported")
    words = tokens(bare.replace("\\", " "))
    if not words:
        raise SruDiagnostic(d.EMPTY_TERM, term)
    scope = f"{field_name}:" if field_name else ""
    star = "*" if prefix else ""
    if len(words) == 1:
        return f"{scope}{words[0]}{star}"
    if relation in ("=", "adj", "=="):
        return f'{scope}"{" ".join(words)}"{star}'
    # adjacent words are an AND in our language, and keep its boost for the words as a phrase
    joiner = " OR " if relation == "any" else " "
    parts = [*words[:-1], words[-1] + star]
    return f"{scope}({joiner.join(parts)})"


def _date(relation: str, term: str) -> str:
    values = term.split()
    if not values or not all(_YEAR.match(v) for v in values):
        raise SruDiagnostic(
            d.INVALID_TERM, term, 'dc.date takes years (e.g. 2015, or "2015 2020" with within)'
        )
    years = [int(v) for v in values]
    if relation == "within":
        if len(years) != 2 or years[0] > years[1]:
            raise SruDiagnostic(d.INVALID_TERM, term, 'within takes two years in order: "2015 2020"')
        return f"year:{years[0]}..{years[1]}"
    if relation == "any":
        return "(" + " OR ".join(f"year:{y}" for y in years) + ")"
    if len(years) != 1:
        raise SruDiagnostic(d.INVALID_TERM, term, f"{relation} takes one year")
    year = years[0]
    ranges = {
        "=": f"year:{year}",
        "==": f"year:{year}",
        "<": f"year:..{year - 1}",
        "<=": f"year:..{year}",
        ">": f"year:{year + 1}..",
        ">=": f"year:{year}..",
    }
    return ranges[relation]

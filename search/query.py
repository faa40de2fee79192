"""The search query language: a tokenizer and a recursive-descent parser producing ``ParsedQuery``.

Grammar (operators are upper-case; lower-case ``and``/``or``/``not`` are ordinary words)::

    query    := or_expr
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary (["AND"] unary)*          -- adjacency is an implicit AND
    unary    := "NOT" unary | primary
    primary  := "(" or_expr ")" | FIELD ":" primary | '"' phrase '"' ["*"] | word ["*"]

A field applies to the one word, phrase or parenthesised group that follows it (``title:khoa học`` is
``title:khoa AND học``; write ``title:"khoa học"`` or ``title:(khoa học)`` for both in the title).
Adjacent plain words in one field become a single multi-token ``Term`` (which is what gives
unquoted ``khoa học máy tính`` its phrase boost). ``*`` is allowed only at the end of a word or after a
closing quote. Keyword fields (``isbn issn doi member type lang year``) take their value raw up to the
next space, so DOIs with parentheses or colons need no quoting. Pasted titles keep working: a word
ending in ``:`` that is not a field name (``Python: a guide``) is just a word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pycountry

from schemas.errors import QuerySyntaxError
from schemas.record import RECORD_TYPES

from .analysis import fold, normalise_doi, normalise_isbn, normalise_issn, tokens
from .query_ast import TEXT_FIELD, And, Keyword, MatchAll, Node, Not, Or, ParsedQuery, Term, YearRange

TEXT_FIELDS = {"title", "author", "subject"}
KEYWORD_FIELDS = {"isbn", "issn", "doi", "member", "type", "lang", "year"}
OPERATORS = {"AND", "OR", "NOT"}
_FIELD_WORD = re.compile(r"^([A-Za-z][A-Za-z_]*):(.*)$", re.DOTALL)
_YEAR_RANGE = re.compile(r"^(\d{1,4})?(?:\.\.(\d{1,4})?)?$")
_YEAR_DASH = re.compile(r"^(\d{3,4})-(\d{3,4})$")
_STOP = set('()"')


@dataclass(frozen=True)
class Tok:
    """One lexical token: ``kind`` is LP RP OP FIELD WORD PHRASE or RAW (a keyword field's raw value)."""

    kind: str
    text: str
    pos: int
    prefix: bool = False


def _raw_value(q: str, i: int) -> int:
    """End of a keyword value starting at ``i``: up to whitespace, or a ``)`` that closes a group."""
    depth = 0
    while i < len(q) and not q[i].isspace():
        if q[i] == "(":
            depth += 1
        elif q[i] == ")":
            if depth == 0:
                break
            depth -= 1
        i += 1
    return i


def lex(q: str) -> list[Tok]:
    """Split a query into tokens, raising ``QuerySyntaxError`` on an unclosed quote or unknown field."""
    out: list[Tok] = []
    i, n = 0, len(q)
    while i < n:
        ch = q[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append(Tok("LP" if ch == "(" else "RP", ch, i))
            i += 1
        elif ch == '"':
            end = q.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError("unclosed quote", i, q)
            prefix = end + 1 < n and q[end + 1] == "*"
            out.append(Tok("PHRASE", q[i + 1 : end], i, prefix))
            i = end + 2 if prefix else end + 1
        else:
            start = i
            while i < n and not q[i].isspace() and q[i] not in _STOP:
                i += 1
            word = q[start:i]
            match = _FIELD_WORD.match(word)
            if word in OPERATORS:
                out.append(Tok("OP", word, start))
            elif match is None or match.group(2).startswith("//"):  # plain word, or a pasted URL
                out.append(Tok("WORD", word, start))
            else:
                name, rest = match.group(1).lower(), match.group(2)
                value_at = start + len(match.group(1)) + 1
                if name in TEXT_FIELDS or name in KEYWORD_FIELDS:
                    out.append(Tok("FIELD", name, start))
                    i = value_at
                    if name in KEYWORD_FIELDS:
                        # Keyword values are raw: skip spaces after the colon, stop at space.
                        j = i
                        while j < n and q[j].isspace():
                            j += 1
                        if j < n and q[j] not in '("':
                            end = _raw_value(q, j)
                            out.append(Tok("RAW", q[j:end], j))
                            i = end
                elif not rest and (i >= n or q[i].isspace()):
                    out.append(Tok("WORD", word, start))  # "Python: a guide": a colon in pasted text
                else:
                    known = ", ".join(sorted(TEXT_FIELDS | KEYWORD_FIELDS))
                    raise QuerySyntaxError(f"unknown field '{match.group(1)}:' (known: {known})", start, q)
    return out


MAX_DEPTH = 20  # nesting of parentheses and NOT a query may have


class _Parser:
    def __init__(self, q: str) -> None:
        self.q = q
        self.toks = lex(q)
        self.i = 0
        self.depth = 0  # open parentheses and NOTs around the current token

    # -- helpers -----------------------------------------------------------------------------------
    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, detail: str, pos: int) -> QuerySyntaxError:
        return QuerySyntaxError(detail, pos, self.q)

    def end_pos(self) -> int:
        return len(self.q)

    def _enter(self, tok: Tok) -> None:
        # the parser and every backend's compiler recurse once per level: a bound keeps a hostile
        # query ("((((...") a syntax error instead of a stack overflow
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"query nested more than {MAX_DEPTH} levels deep (parentheses and NOT)", tok.pos)

    def _needs_operand(self, op: Tok) -> None:
        nxt = self.peek()
        if nxt is None or nxt.kind == "RP" or (nxt.kind == "OP" and nxt.text in {"AND", "OR"}):
            raise self.error(f"'{op.text}' needs a term after it", op.pos)

    # -- grammar -----------------------------------------------------------------------------------
    def parse(self) -> Node:
        node = self.or_expr(None)
        tok = self.peek()
        if tok is not None:  # only a stray ')' can stop or_expr early
            raise self.error("unmatched ')'", tok.pos)
        return node if node is not None else MatchAll()

    def or_expr(self, field: str | None) -> Node | None:
        tok = self.peek()
        if tok is not None and tok.kind == "OP" and tok.text in {"OR", "AND"}:
            raise self.error(f"'{tok.text}' needs a term before it", tok.pos)
        items = [self.and_expr(field)]
        while (tok := self.peek()) is not None and tok.kind == "OP" and tok.text == "OR":
            self.take()
            self._needs_operand(tok)
            items.append(self.and_expr(field))
        kept = [it for it in items if it is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Or(tuple(_flatten(Or, kept)))

    def and_expr(self, field: str | None) -> Node | None:
        items: list[Node] = []
        mergeable: list[bool] = []  # item came from a plain word (may join the previous word)
        explicit = False
        while (
            (tok := self.peek()) is not None
            and tok.kind != "RP"
            and not (tok.kind == "OP" and tok.text == "OR")
        ):
            if tok.kind == "OP" and tok.text == "AND":
                self.take()
                self._needs_operand(tok)
                explicit = True
                continue
            plain = tok.kind == "WORD"
            node = self.unary(field)
            if node is None:
                continue
            if (
                plain
                and not explicit
                and items
                and mergeable[-1]
                and isinstance(node, Term)
                and isinstance(items[-1], Term)
            ):
                prev = items[-1]
                if prev.field == node.field and not prev.prefix:
                    items[-1] = Term(
                        prev.field, prev.exact + node.exact, prev.folded + node.folded, prefix=node.prefix
                    )
                    continue
            items.append(node)
            mergeable.append(plain and isinstance(node, Term))
            explicit = False
        if not items:
            return None
        return items[0] if len(items) == 1 else And(tuple(_flatten(And, items)))

    def unary(self, field: str | None) -> Node | None:
        tok = self.peek()
        if tok is not None and tok.kind == "OP" and tok.text == "NOT":
            self.take()
            self._needs_operand(tok)
            self._enter(tok)
            inner = self.unary(field)
            self.depth -= 1
            return None if inner is None else Not(inner)
        return self.primary(field)

    def primary(self, field: str | None) -> Node | None:
        tok = self.take()
        if tok.kind == "LP":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "RP":
                raise self.error("empty parentheses", tok.pos)
            self._enter(tok)
            node = self.or_expr(field)
            close = self.peek()
            if close is None or close.kind != "RP":
                raise self.error("unclosed parenthesis", tok.pos)
            self.take()
            self.depth -= 1
            return node
        if tok.kind == "RP":
            raise self.error("unmatched ')'", tok.pos)
        if tok.kind == "FIELD":
            nxt = self.peek()
            if nxt is None or nxt.kind in {"RP", "OP", "FIELD"}:
                raise self.error(f"field '{tok.text}:' needs a value", tok.pos)
            if tok.text in TEXT_FIELDS:
                node = self.primary(tok.text)
                if node is None:
                    raise self.error(f"field '{tok.text}:' has no searchable words", tok.pos)
                return node
            return self.primary(tok.text)
        if tok.kind == "OP":  # NOT/AND/OR where a term was expected
            raise self.error(f"'{tok.text}' needs a term before it", tok.pos)
        if field in KEYWORD_FIELDS:
            return self.keyword(field, tok.text, tok.pos)
        if tok.kind == "RAW":  # cannot happen: RAW only follows a keyword FIELD
            raise self.error("unexpected value", tok.pos)
        return self.term(field or "any", tok)

    def term(self, field: str, tok: Tok) -> Term | None:
        text, prefix = tok.text, tok.prefix
        if tok.kind == "WORD":
            stripped = text.rstrip("*")
            if "*" in stripped:
                raise self.error("'*' is only allowed at the end of a word", tok.pos + stripped.index("*"))
            prefix = len(stripped) < len(text)
            text = stripped
        exact = tuple(tokens(text))
        if not exact:
            if prefix:
                raise self.error("'*' needs a few letters before it", tok.pos)
            return None
        folded = tuple(fold(t) for t in exact)
        return Term(TEXT_FIELD[field], exact, folded, phrase=tok.kind == "PHRASE", prefix=prefix)

    def keyword(self, field: str, raw: str, pos: int) -> Node:
        value = raw.strip()
        if not value:
            raise self.error(f"field '{field}:' needs a value", pos)
        if field == "year":
            return self.year(value, pos)
        if field == "isbn":
            isbn = normalise_isbn(value)
            if isbn is None:
                raise self.error(f"invalid ISBN '{value}'", pos)
            return Keyword("isbn", isbn)
        if field == "issn":
            issn = normalise_issn(value)
            if issn is None:
                raise self.error(f"invalid ISSN '{value}'", pos)
            return Keyword("issn", issn)
        if field == "doi":
            doi = normalise_doi(value)
            if doi is None:
                raise self.error(f"invalid DOI '{value}' (expected 10.<prefix>/<suffix>)", pos)
            return Keyword("doi", doi)
        if field == "type":
            kind = value.lower()
            if kind not in RECORD_TYPES:
                raise self.error(f"unknown type '{value}' (one of {', '.join(RECORD_TYPES)})", pos)
            return Keyword("type", kind)
        if field == "lang":
            return Keyword("lang", language_code(value))
        return Keyword("member", value)

    def year(self, value: str, pos: int) -> YearRange:
        match = _YEAR_RANGE.match(value) or _YEAR_DASH.match(value)
        if match is None or (match.group(1) is None and match.group(2) is None):
            raise self.error(f"bad year '{value}' (use 2015, 2015..2020, ..2000 or 2015..)", pos)
        start = int(match.group(1)) if match.group(1) else None
        if ".." not in value and "-" not in value:
            return YearRange(start, start)
        end = int(match.group(2)) if match.group(2) else None
        if start is not None and end is not None and start > end:
            raise self.error(f"bad year range '{value}': {start} is after {end}", pos)
        return YearRange(start, end)


def language_code(value: str) -> str:
    """A language as its ISO 639-3 code (``vi``, ``vie``, ``Vietnamese`` -> ``vie``); else lower-case."""
    code = value.strip().lower()
    try:
        lang = pycountry.languages.lookup(code)
    except LookupError:
        return code
    return getattr(lang, "alpha_3", code)


def _flatten(kind: type[And] | type[Or], items: list[Node]) -> list[Node]:
    out: list[Node] = []
    for item in items:
        out.extend(item.items if isinstance(item, kind) else (item,))
    return out


def positive_terms(node: Node, negated: bool = False) -> list[Term]:
    """Text terms not under a NOT, in query order (what ranking boosts and highlights use)."""
    if isinstance(node, Term):
        return [] if negated else [node]
    if isinstance(node, And | Or):
        return [t for item in node.items for t in positive_terms(item, negated)]
    if isinstance(node, Not):
        return positive_terms(node.item, not negated)
    return []


def parse_query(q: str) -> ParsedQuery:
    """Parse a user query; ``QuerySyntaxError`` says what is wrong and where (0-based position)."""
    root = _Parser(q).parse()
    return ParsedQuery(root=root, text=q, positive_terms=tuple(positive_terms(root)))

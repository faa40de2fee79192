"""The search semantics every backend implements identically (tantivy and Elasticsearch/OpenSearch).

The conformance suite (``tests/search/test_conformance.py``) checks both backends against these rules.

Analysis
    A document is a work (``indexer.documents``). Backends never analyse text themselves.
    ``IndexDocument.*_exact`` / ``*_folded`` hold space-joined tokens from ``search.analysis`` (title =
    title + subtitle of the fullest record, then each other record's not already there; author = the
    authors, likewise; subject = subjects; text = title + author + subject + abstract + publisher);
    ``Term.exact`` / ``Term.folded`` hold the query tokens. Split on spaces only (Elasticsearch:
    ``whitespace`` tokenizer, no filters).

Matching (``search.query_ast``)
    * ``Term`` matches in ONE folded field: any -> ``text_folded``, title -> ``title_folded``,
      author -> ``author_folded``, subject -> ``subject_folded``.
      Unquoted: every token occurs in that field, any order. ``phrase``: tokens adjacent, in order
      (slop 0). ``prefix``: the last token matches any indexed token starting with it (for a phrase:
      the last position).
    * ``Keyword`` is exact equality: isbn/issn/doi/member are list membership on
      ``isbn``/``issn``/``doi`` (values stored normalised by ``search.analysis.normalise_*``) and
      ``member`` (the codes of the members holding the work), type -> ``type``, lang -> ``language``.
    * ``YearRange`` is inclusive on ``year`` (open ends allowed); documents without a year never match.
    * And / Or / Not as usual; a query that is only ``Not(x)`` means everything except x;
      ``MatchAll`` matches everything.

Filters (``SearchFilters``)
    member / type / language / subject: OR within one field, AND between fields; member and subject
    are exact values of the ``member`` and ``subjects`` lists (a member filter: the works it holds);
    year_from / year_to inclusive (documents without year excluded when either bound is set).

Relevance (sort ``relevance``)
    score = BM25 over the folded fields for the positive terms, field weights ``FIELD_WEIGHTS``
        + ``EXACT_BOOST``         for each positive term that also matches with its EXACT tokens in the
                                  ``*_exact`` twin of its field (same phrase/prefix mode)
        + ``PHRASE_BOOST``        for each positive term of >= 2 tokens occurring as a phrase (same
                                  prefix mode) in ``title_folded``
        + ``PHRASE_EXACT_BOOST``  for each such term occurring as a phrase of its exact tokens in
                                  ``title_exact``.
    The boosts are large on purpose so that they, not the BM25 details (which differ between engines),
    decide the order: every exact-diacritic match outranks every diacritic-free one, and a title
    phrase outranks scattered syllables. Ties (and queries without positive terms: score 0) -> ``id``
    ascending. Other sorts: ``year_desc`` / ``year_asc`` (documents without a year last), ``title``
    (``title_sort`` ascending, code-point order); each then ``id`` ascending.

Facets (over query + filters, all hits)
    member, type, language, subject: top ``facet_size`` by count desc, then value asc. year: every
    year with its count, ascending by year (values are strings). Documents lacking a value are not
    counted. A document counts once per distinct subject, and once per member holding it (the member
    facet counts the works each member holds).

Paging
    ``size`` capped at the service's max size; ``page * size <= MAX_WINDOW`` (deeper needs the cursor).
    ``cursor`` (opaque, backend-specific: urlsafe base64 of JSON sort values + id) continues after the
    last hit of the previous page, ignoring ``page``. ``next_cursor`` is set iff more hits follow.
    The service signs the cursors it hands out (HMAC, when given a key) and refuses any other.

Typo tolerance (``search.fuzzy``, ``search.suggest``; requests with ``correct``, the default)
    When the query as typed finds fewer than ``fuzzy.FEW_HITS`` hits, it runs again corrected: each
    word of an unquoted positive term (not a ``*`` prefix) matches any indexed folded word within its
    ``fuzzy.edit_budget`` (Damerau: insert, delete, substitute, or swap two neighbours, each one
    edit; ``Term.fuzzy``); a word with no indexed word within its budget is left out. Ranking: the
    documents matching the query as typed get ``AS_TYPED_BOOST`` (so they keep their order, first),
    then the usual clauses of each term with its unknown words replaced by each of their
    alternatives (``fuzzy.MAX_ALTERNATIVES`` closest, then most frequent, indexed words; folded only,
    no exact boost), plus the exact clauses of the words typed right. The corrected result is kept
    when it finds more; ``corrected_query`` then says what was searched, spelled as the hits spell it.
    Otherwise ``suggestion`` (did-you-mean) offers the alternative whose words occur together most.

Highlights, autocomplete, spelling
    Computed by the pure functions below so both backends give identical output:
    ``highlight_fields`` (service), ``rank_completions`` (each backend's ``autocomplete`` after picking
    its candidates: any word of a title, subject or author name), ``search.fuzzy`` and
    ``search.suggest`` (service, over ``backend.frequencies`` and ``backend.vocabulary``: document
    frequencies of ``text_folded`` terms).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import html
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

from schemas.errors import InvalidInput

from .analysis import fold, normalise, tokens
from .query_ast import Term

FIELD_WEIGHTS = {"title": 3.0, "author": 2.0, "subject": 1.5, "text": 1.0}
EXACT_BOOST = 1000.0
PHRASE_BOOST = 500.0
PHRASE_EXACT_BOOST = 500.0
#: A corrected query (``search.fuzzy``): the documents matching the query as typed, above all others.
AS_TYPED_BOOST = 100_000.0
MAX_WINDOW = 10_000
SNIPPET_CHARS = 240

_TOKEN = re.compile(r"[^\W_]+")


# -- cursor ------------------------------------------------------------------------------------------
# json.dumps with options builds a new encoder on every call; a cursor is encoded for every result page.
_cursor_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode_cursor(values: Sequence[object]) -> str:
    """Opaque cursor of a hit's sort values (last one: the id)."""
    raw = _cursor_json(list(values)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: A cursor holds a few sort values and an id: anything longer was not made here.
MAX_CURSOR_CHARS = 2048
_MAX_CURSOR_VALUES = 4
_SAFE_INT = 2**63  # engines sort on 64-bit longs


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a sort value")


_cursor_decoder = json.JSONDecoder(parse_constant=_refuse_constant)


def decode_cursor(cursor: str) -> list[object]:
    """Sort values of a cursor; ``InvalidInput`` when it was not made by ``encode_cursor``.

    Type-checked, since a cursor comes from a client: a flat list of at most a few strings, 64-bit
    integers, finite numbers or nulls, ending with an id. ``Infinity``, ``1e400``, nesting or an
    oversized cursor are refused before any backend compares against them.
    """
    invalid = InvalidInput("invalid cursor: use the next_cursor of a previous page")
    if len(cursor) > MAX_CURSOR_CHARS:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = _cursor_decoder.decode(raw.decode())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise invalid from exc
    if not isinstance(values, list) or not 1 <= len(values) <= _MAX_CURSOR_VALUES:
        raise invalid
    if not isinstance(values[-1], str) or not all(_sort_value(v) for v in values):
        raise invalid
    return values


def _sort_value(value: object) -> bool:
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_SAFE_INT <= value < _SAFE_INT
    return isinstance(value, float) and math.isfinite(value)


def sign_cursor(cursor: str, key: bytes) -> str:
    """A backend's cursor with an HMAC of it: the service hands out only cursors it can verify."""
    return f"{cursor}.{_cursor_mac(cursor, key)}"


def verify_cursor(signed: str, key: bytes) -> str:
    """The backend's cursor inside a signed one; ``InvalidInput`` for a forged or altered cursor."""
    cursor, _, mac = signed.rpartition(".")
    if not cursor or not hmac.compare_digest(mac.encode(), _cursor_mac(cursor, key).encode()):
        raise InvalidInput("invalid cursor: use the next_cursor of a previous page")
    return cursor


def _cursor_mac(cursor: str, key: bytes) -> str:
    digest = hmac.new(key, b"cursor\x00" + cursor.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


# -- highlights --------------------------------------------------------------------------------------
#: ``(whole tokens, prefixes)``: what a token must equal, or start with, to be marked. Hashable, so the
#: marking of a text can be memoised per matcher.
_Matcher = tuple[frozenset[str], tuple[str, ...]]


def _matcher(terms: Iterable[Term]) -> _Matcher:
    whole: set[str] = set()
    prefixes: list[str] = []
    for term in terms:
        if term.prefix:
            whole.update(term.folded[:-1])
            prefixes.append(term.folded[-1])
        else:
            whole.update(term.folded)
    return frozenset(whole), tuple(prefixes)


@functools.lru_cache(maxsize=1 << 16)
def _fold_lower(token: str) -> str:
    # Highlighting folds every word of every title, abstract and author of a result page, and the
    # same words come back page after page: memoised, a page costs dictionary look-ups.
    return fold(token.lower())


def _mark(text: str, matcher: _Matcher) -> tuple[str, int]:
    """``mark`` of an NFC ``text`` with a prepared matcher."""
    whole, prefixes = matcher
    out: list[str] = []
    last, first = 0, -1
    for m in _TOKEN.finditer(text):
        word = m.group()
        folded = _fold_lower(word)
        if folded in whole or (prefixes and folded.startswith(prefixes)):
            start = m.start()
            if first < 0:
                first = start
            out.append(html.escape(text[last:start]))
            out.append(f"<mark>{html.escape(word)}</mark>")
            last = m.end()
    if first < 0:
        return html.escape(text), -1
    out.append(html.escape(text[last:]))
    return "".join(out), first


# The same titles and author names come back query after query (popular searches, and copies of one
# work held by several members): their marked HTML is memoised per (NFC text, matcher).
_mark_cached = functools.lru_cache(maxsize=1 << 15)(_mark)


def mark(text: str, terms: Sequence[Term]) -> tuple[str, int]:
    """HTML-escaped ``text`` (NFC) with matching tokens wrapped in ``<mark>``; returns (html, first mark)."""
    return _mark(unicodedata.normalize("NFC", text), _matcher(terms))


def _first(text: str, matcher: _Matcher) -> int:
    """Offset of the first token of ``text`` that ``_mark`` would mark, -1 when none."""
    whole, prefixes = matcher
    for m in _TOKEN.finditer(text):
        folded = _fold_lower(m.group())
        if folded in whole or (prefixes and folded.startswith(prefixes)):
            return m.start()
    return -1


def _snippet(text: str, matcher: _Matcher, width: int) -> str | None:
    """``snippet`` of an NFC ``text`` with a prepared matcher."""
    if len(text) <= width:
        marked, first = _mark(text, matcher)  # the whole text
        return marked if first >= 0 else None
    # A long text: only the window is marked, so only find where the first match is.
    first = _first(text, matcher)
    if first < 0:
        return None
    start = max(0, first - width // 3)
    while start > 0 and not text[start - 1].isspace():  # do not cut a word
        start -= 1
    end = min(len(text), start + width)
    while end < len(text) and not text[end].isspace():
        end += 1
    body = _mark(unicodedata.normalize("NFC", text[start:end]), matcher)[0]
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")


# Abstracts are long, so fewer of them are kept than titles and names.
_snippet_cached = functools.lru_cache(maxsize=1 << 12)(_snippet)


def snippet(text: str, terms: Sequence[Term], width: int = SNIPPET_CHARS) -> str | None:
    """A window of about ``width`` characters around the first match, marked; ``None`` without a match."""
    return _snippet(unicodedata.normalize("NFC", text), _matcher(terms), width)


def highlighter(
    terms: Sequence[Term],
) -> Callable[[str | None, str | None, Sequence[str]], dict[str, list[str]]]:
    """``highlight_fields`` with ``terms`` bound: the matcher is built once for a whole result page."""
    matcher = _matcher(terms)
    normalize = unicodedata.normalize

    def highlight(title: str | None, abstract: str | None, authors: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if title:
            marked, first = _mark_cached(normalize("NFC", title), matcher)
            if first >= 0:
                out["title"] = [marked]
        if abstract:
            snip = _snippet_cached(normalize("NFC", abstract), matcher, SNIPPET_CHARS)
            if snip is not None:
                out["abstract"] = [snip]
        names: list[str] = []
        for name in authors:
            marked, first = _mark_cached(normalize("NFC", name), matcher)
            if first >= 0:
                names.append(marked)
        if names:
            out["authors"] = names
        return out

    return highlight


def highlight_fields(
    title: str | None, abstract: str | None, authors: Sequence[str], terms: Sequence[Term]
) -> dict[str, list[str]]:
    """Highlights of a hit: ``title`` (whole), ``abstract`` (one snippet), ``authors`` (matching names)."""
    if not terms:
        return {}
    return highlighter(terms)(title, abstract, authors)


# -- autocomplete ------------------------------------------------------------------------------------
#: Words of a title or subject a completion shows from the completed word on.
COMPLETION_WORDS = 8


def starts_with(words: Sequence[str], typed: Sequence[str]) -> bool:
    """Whether ``words`` begins with ``typed``: all but the last equal, the last a prefix."""
    if not typed or len(words) < len(typed):
        return False
    *full, last = typed
    return list(words[: len(full)]) == full and words[len(full)].startswith(last)


def _match_at(words: Sequence[str], typed: Sequence[str]) -> int:
    """The first word of ``words`` from which they start with ``typed`` (``-1``: none)."""
    return next((i for i in range(len(words)) if starts_with(words[i:], typed)), -1)


def completion_key(text: str, term: Term) -> tuple[int, int, int, str] | None:
    """How a completion ranks: exact-diacritic match first, then a match at its first word, then
    shorter, then code-point order; ``None`` when its words do not contain the typed ones."""
    exact = tokens(text)
    at = _match_at([fold(t) for t in exact], term.folded)
    if at < 0:
        return None
    diacritics = 0 if term.exact and _match_at(exact, term.exact) >= 0 else 1
    return (diacritics, 0 if at == 0 else 1, len(text), text)


def completion_of(text: str, term: Term, whole: bool) -> tuple[str, int] | None:
    """The completion a title, subject or name gives for ``term``, and the word of ``text`` it starts
    at: the text from the first word whose folded words start with the typed ones,
    ``COMPLETION_WORDS`` words at most (``whole``: all of it, for names); ``None`` without such a word."""
    text = unicodedata.normalize("NFC", text).strip()
    spans = list(_TOKEN.finditer(text))
    at = _match_at([_fold_lower(m.group()) for m in spans], term.folded)
    if at < 0:
        return None
    if whole:
        return text, at
    end = spans[min(len(spans), at + COMPLETION_WORDS) - 1].end()
    return text[spans[at].start() : end], at


def rank_completions(candidates: Iterable[str], term: Term, size: int, whole: bool = False) -> list[str]:
    """Completions of the typed words among ``candidates`` (titles; or, ``whole``, subjects and names).

    Any word may be completed (``nong`` -> ``nông nghiệp ...`` from the middle of a title), without
    diacritics. Order: exact-diacritic matches first, then matches at the first word of a title,
    subject or name, then shorter, then code-point order; duplicates (same NFC casefold) removed.
    """
    scored: list[tuple[tuple[int, int, int, str], str]] = []
    for cand in candidates:
        found = completion_of(cand, term, whole) if cand else None
        key = completion_key(found[0], term) if found else None
        if found is not None and key is not None:
            scored.append(((key[0], 0 if found[1] == 0 else 1, key[2], key[3]), found[0]))
    return _deduped(scored, size)


def merge_completions(lists: Iterable[Iterable[str]], term: Term, size: int) -> list[str]:
    """Completions of several fields in one list, ordered by ``completion_key``, duplicates removed."""
    scored: list[tuple[tuple[int, int, int, str], str]] = []
    for items in lists:
        for text in items:
            key = completion_key(text, term)
            if key is not None:
                scored.append((key, text))
    return _deduped(scored, size)


def _deduped(scored: list[tuple[tuple[int, int, int, str], str]], size: int) -> list[str]:
    """The texts of ``scored`` in key order, the first of each NFC casefold, ``size`` at most."""
    scored.sort()
    seen: set[str] = set()
    out: list[str] = []
    for _, text in scored:
        folded = normalise(text)
        if folded not in seen:
            seen.add(folded)
            out.append(text)
            if len(out) >= size:
                break
    return out


# -- corrections ----------------------------------------------------------------------------------------
def apply_corrections(query: str, corrections: dict[str, str]) -> str:
    """``query`` (NFC) with every word whose fold is a key of ``corrections`` replaced by its value."""
    text = unicodedata.normalize("NFC", query)

    def swap(m: re.Match[str]) -> str:
        return corrections.get(fold(m.group().lower()), m.group())

    return _TOKEN.sub(swap, text)

"""The embedded search backend on tantivy: one index folder per version, behind an atomically swapped alias.

Layout of ``directory``::

    alias                      {"live": "lienhop-20250101T...", "previous": "..."}  (os.replace'd)
    lienhop-<timestamp>/       one tantivy index each
        position.json          {"position": N}: the indexer's position (os.replace'd after a commit)

Each document (a work) is stored whole (JSON of the ``IndexDocument``, its record refs included) and
indexed as: the eight analysed fields (split on spaces only, positions kept for phrases), raw keyword
fields for identifiers, codes and subjects (fast: facets are exact ``terms`` aggregations; ``member``
and ``subjects`` hold several values each), ``year`` (fast integer), ``title_sort`` (fast, for sorting),
two raw "title starts" fields for autocomplete, and the id twice: as a raw fast string (exact lookups,
id order) and as four big-endian u64 fast fields of its first 32 UTF-8 bytes, so ties
between equal scores or sort values can be broken by id without loading documents.

One ``IndexWriter`` per index folder (tantivy allows one per folder) lives for as long as the index is
open here; ``refresh`` and ``set_position`` commit it and reload the reader. The position sidecar is
written only after the documents it covers are committed, so a crash can replay changes but never skip
them. Every tantivy call runs on a worker thread (``asyncio.to_thread``); searches run in parallel.
Matching and ranking follow ``search.semantics``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import struct
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar, cast

import tantivy
from pydantic import TypeAdapter
from tantivy import Occur, Order
from tantivy import Query as Q

from schemas.errors import BackendUnavailable, Conflict, InvalidInput, NotFound
from schemas.search import ANALYSED, FacetValue, IndexDocument, SearchRequest

from .alias_file import PREFIX, AliasFile, new_index_name
from .backend import BackendHit, BackendResult, BulkReport
from .query_ast import And, Keyword, Node, Not, Or, ParsedQuery, Term, YearRange
from .semantics import (
    AS_TYPED_BOOST,
    EXACT_BOOST,
    FIELD_WEIGHTS,
    PHRASE_BOOST,
    PHRASE_EXACT_BOOST,
    decode_cursor,
    encode_cursor,
    rank_completions,
)

T = TypeVar("T")

_TOKENIZER = "lienhop_ws"
_ID_KEYS = ("idk0", "idk1", "idk2", "idk3")
_STEM = {"any": "text", "title": "title", "author": "author", "subject": "subject"}
_SCORED = {
    "any": ("title", "author", "subject", "text"),
    "title": ("title",),
    "author": ("author",),
    "subject": ("subject",),
}
_KEYWORD_FIELD = {
    "isbn": "isbn", "issn": "issn", "doi": "doi", "member": "member", "type": "type", "lang": "language",
}  # fmt: skip
_FACET_FIELD = {
    "member": "member",
    "type": "type",
    "language": "language",
    "subject": "subjects",
    "year": "year",
}
#: Autocomplete field -> (stem of the analysed fields searched, stored fields its completions come from).
_COMPLETED = {
    "title": ("title", ("title", "subtitle")),
    "author": ("author", ("authors",)),
    "subject": ("subject", ("subjects",)),
}
#: Documents read per autocomplete field and variant (exact, folded): one title is often held by many.
_COMPLETION_CANDIDATES = 60
_MAX_BOOSTED_TERMS = 8  # bound the work per query; later terms still match
_MAX_TIE_WINDOW = 200_000  # largest window fetched to order a group of equal scores by id
_STARTS_MAX = 1000  # characters of a title kept in the autocomplete "starts" fields
_REGEX_META = set("\\.+*?()|[]{}^$#&-~")
# title_sort is stored behind a fixed prefix: tantivy treats an empty string as "no value" (sorted last),
# while the semantics sort an empty title_sort first.
_SORT_MARK = "t"


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=False, fast=True, tokenizer_name="raw")
    for name in _ID_KEYS:
        sb.add_unsigned_field(name, fast=True)
    for name in ("member", "type", "language", "subjects"):
        sb.add_text_field(name, fast=True, tokenizer_name="raw")
    for name in ("isbn", "issn", "doi", "title_start_exact", "title_start_folded"):
        sb.add_text_field(name, tokenizer_name="raw")
    sb.add_text_field("title_sort", fast=True, tokenizer_name="raw")
    sb.add_integer_field("year", indexed=True, fast=True)
    for name in ANALYSED:
        sb.add_text_field(name, tokenizer_name=_TOKENIZER, index_option="position")
    sb.add_bytes_field("body", stored=True)
    return sb.build()


SCHEMA = _schema()
_NOT_STORED = set(ANALYSED)  # a set, as pydantic's exclude= is typed; never changed


def id_key(doc_id: str) -> tuple[int, int, int, int]:
    """Order-preserving key of an id: its first 32 UTF-8 bytes as four big-endian u64 numbers.

    Byte order of UTF-8 is code-point order, and the zero padding sorts a shorter id before its
    extensions, so comparing keys compares ids (ids longer than 32 bytes that share those 32 bytes
    compare equal: record ids are ``<member>-<16 hex digits>``, far shorter).
    """
    return _four_u64(doc_id.encode()[:32].ljust(32, b"\0"))


_four_u64 = struct.Struct(">4Q").unpack
# Optional fields of the tantivy document, left out when empty as if absent (an empty string in a
# raw field would be indexed as an empty term).
_IF_NOT_EMPTY = ("member", "subjects", "isbn", "issn", "doi", *ANALYSED)


def _escape(token: str) -> str:
    """``token`` as a literal in tantivy's regex syntax."""
    return "".join("\\" + ch if ch in _REGEX_META else ch for ch in token)


_to_json = IndexDocument.__pydantic_serializer__.to_json
_from_dict = tantivy.Document.from_dict


def to_tantivy(doc: IndexDocument) -> tantivy.Document:
    """The tantivy document of one search document."""
    # Runs once per indexed document: the field values are read from the model's __dict__ and the
    # body comes from the serializer itself (about 4 µs of the 20 a document took through attributes
    # and model_dump_json).
    d = doc.__dict__
    k0, k1, k2, k3 = id_key(d["id"])
    values: dict[str, Any] = {
        "id": d["id"],
        "idk0": k0,
        "idk1": k1,
        "idk2": k2,
        "idk3": k3,
        "type": d["type"],
        "title_sort": _SORT_MARK + d["title_sort"],
        "title_start_exact": d["title_exact"][:_STARTS_MAX],
        "title_start_folded": d["title_folded"][:_STARTS_MAX],
        # The analysed twins are indexed above; storing them too would double the body for nothing.
        # Default values (null, [], 0) are left out too: loading restores them, and every hit parses it.
        "body": _to_json(doc, exclude=_NOT_STORED, exclude_defaults=True),
    }
    if d["language"] is not None:
        values["language"] = d["language"]
    if d["year"] is not None:
        values["year"] = d["year"]
    for name in _IF_NOT_EMPTY:
        value = d[name]
        if value:
            values[name] = value
    return _from_dict(values, SCHEMA)


# -- query compilation (pure) -----------------------------------------------------------------------
# Compiling a regex query builds its automaton: the costliest query part, and the same prefixes come
# back query after query. tantivy query objects are immutable and shared safely between threads.
@functools.lru_cache(maxsize=4096)
def _token(fld: str, tok: str, prefix: bool, edits: int = 0) -> Q:
    if edits:
        # Damerau (a swap of neighbours costs one edit), as the other backends' fuzzy queries.
        return Q.fuzzy_term_query(SCHEMA, fld, tok, edits, True, False)
    return Q.regex_query(SCHEMA, fld, _escape(tok) + ".*") if prefix else Q.term_query(SCHEMA, fld, tok)


def _all(queries: Sequence[Q]) -> Q:
    return queries[0] if len(queries) == 1 else Q.boolean_query([(Occur.Must, q) for q in queries])


def words_query(fld: str, toks: Sequence[str], phrase: bool, prefix: bool, fuzzy: Sequence[int] = ()) -> Q:
    """Tokens in one field: all of them (any order), or adjacent in order; the last may be a prefix;
    ``fuzzy``: per token, the edits it may be away from an indexed token (unquoted words only)."""
    if fuzzy and not phrase:
        last = len(toks) - 1
        return _all([_token(fld, t, prefix and i == last, fuzzy[i]) for i, t in enumerate(toks)])
    if not toks:
        return Q.empty_query()
    if phrase and len(toks) >= 2:
        if prefix:
            # phrase_prefix_query stops at 50 expansions; a regex phrase expands up to 16k, like the
            # other backends' "any token starting with it".
            words: list[str | tuple[int, str]] = [_escape(t) for t in toks[:-1]]
            words.append(_escape(toks[-1]) + ".*")
            return Q.regex_phrase_query(SCHEMA, fld, words)
        return Q.phrase_query(SCHEMA, fld, list(toks))
    return _all([_token(fld, t, prefix and i == len(toks) - 1) for i, t in enumerate(toks)])


def term_query(term: Term, exact: bool = False, stem: str | None = None, phrase: bool | None = None) -> Q:
    """A ``Term`` on the folded (or exact) twin of its field, or of ``stem``."""
    fld = f"{stem or _STEM[term.field]}_{'exact' if exact else 'folded'}"
    toks = term.exact if exact else term.folded
    return words_query(fld, toks, term.phrase if phrase is None else phrase, term.prefix)


def _everything_but(queries: Sequence[Q]) -> Q:
    return Q.boolean_query([(Occur.Must, Q.all_query()), *((Occur.MustNot, q) for q in queries)])


def node_query(node: Node) -> Q:
    """The matching query of any node (scores of the result are not used)."""
    if isinstance(node, Term):
        if node.fuzzy:
            fld = f"{_STEM[node.field]}_folded"
            return words_query(fld, node.folded, node.phrase, node.prefix, node.fuzzy)
        return term_query(node)
    if isinstance(node, Keyword):
        return Q.term_query(SCHEMA, _KEYWORD_FIELD[node.field], node.value)
    if isinstance(node, YearRange):
        if node.start is None and node.end is None:
            return Q.exists_query("year")
        return Q.range_query(SCHEMA, "year", tantivy.FieldType.Integer, node.start, node.end)
    if isinstance(node, And):
        pos = [node_query(i) for i in node.items if not isinstance(i, Not)]
        neg = [node_query(i.item) for i in node.items if isinstance(i, Not)]
        if not pos:
            return _everything_but(neg)
        return Q.boolean_query([*((Occur.Must, q) for q in pos), *((Occur.MustNot, q) for q in neg)])
    if isinstance(node, Or):
        return Q.boolean_query([(Occur.Should, node_query(i)) for i in node.items])
    if isinstance(node, Not):
        return _everything_but([node_query(node.item)])
    return Q.all_query()


def filter_queries(request: SearchRequest) -> list[Q]:
    """Queries of the request's filters (OR within a field, AND between)."""
    return list(_filter_queries(_filter_key(request)))


#: The request's filters as a hashable value: (member, type, language, subject, year_from, year_to).
_FilterKey = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], int | None, int | None]


def _filter_key(request: SearchRequest) -> _FilterKey:
    f = request.filters
    return (tuple(f.member), tuple(f.type), tuple(f.language), tuple(f.subject), f.year_from, f.year_to)


def _filter_queries(key: _FilterKey) -> tuple[Q, ...]:
    *lists, year_from, year_to = key
    out: list[Q] = []
    for fld, values in zip(("member", "type", "language", "subjects"), lists, strict=True):
        if values:
            out.append(Q.term_set_query(SCHEMA, fld, list(values)))
    if year_from is not None or year_to is not None:
        out.append(Q.range_query(SCHEMA, "year", tantivy.FieldType.Integer, year_from, year_to))
    return tuple(out)


def rank_queries(terms: Sequence[Term]) -> list[Q]:
    """Scoring clauses of ``search.semantics``: weighted BM25 on the folded fields plus the boosts."""
    out: list[Q] = []
    for term in terms[:_MAX_BOOSTED_TERMS]:
        for stem in _SCORED[term.field]:
            out.append(Q.boost_query(term_query(term, stem=stem), FIELD_WEIGHTS[stem]))
        if term.exact:  # a corrected word has no diacritics to reward (``search.fuzzy``)
            out.append(Q.const_score_query(term_query(term, exact=True), EXACT_BOOST))
        if len(term.folded) >= 2:
            out.append(Q.const_score_query(term_query(term, stem="title", phrase=True), PHRASE_BOOST))
            if term.exact:
                out.append(
                    Q.const_score_query(
                        term_query(term, exact=True, stem="title", phrase=True), PHRASE_EXACT_BOOST
                    )
                )
    return out


@functools.lru_cache(maxsize=1024)
def compiled(
    root: Node, terms: tuple[Term, ...], filters: _FilterKey, ranked: bool, as_typed: Node | None = None
) -> tuple[Q, Q]:
    """``(matching, scored)`` queries of a parsed query and filters; memoised, as queries recur.

    ``matching`` selects the hits (and facets); ``scored`` ranks them when ``ranked``, else is ``matching``.
    ``as_typed``: the query as typed of a corrected one, whose matches rank above the others.
    """
    matching = _all([node_query(root), *_filter_queries(filters)])
    if not ranked:
        return matching, matching
    if as_typed is not None:
        ranks = [*rank_queries(terms), Q.const_score_query(node_query(as_typed), AS_TYPED_BOOST)]
        clauses = [(Occur.Must, Q.const_score_query(matching, 0.0))] + [(Occur.Should, q) for q in ranks]
        return matching, Q.boolean_query(clauses)
    return matching, scored_query(root, terms, filters, matching)


def scored_query(root: Node, terms: tuple[Term, ...], filters: _FilterKey, matching: Q) -> Q:
    """The ranking query: matches as ``matching`` (``root`` and the filters), scores as
    ``rank_queries(terms)``.

    When the first ranked term is the root or one of its top-level AND items, its own-field clause
    (BM25 in the field it matches in) selects exactly the documents that term selects, so it is required
    instead of being run twice, once to match and once to score: a phrase or a common word over a
    million documents costs about half as much. The other items and the filters are required at
    score 0, the other ranking clauses stay optional: the same documents and the same score terms,
    summed in another order (a score may differ from the sum of the clauses in another order in the
    last bit of its 32-bit float; what decides the order, the boosts, is untouched).
    """
    ranks = rank_queries(terms)
    items = list(root.items) if isinstance(root, And) else [root]
    lead = terms[0]
    if lead not in items:  # e.g. the first term sits under an OR: match, then score every clause
        return Q.boolean_query(
            [(Occur.Must, Q.const_score_query(matching, 0.0))] + [(Occur.Should, q) for q in ranks]
        )
    del items[items.index(lead)]
    own = _SCORED[lead.field].index(_STEM[lead.field])  # rank_queries puts the lead's clauses first
    clauses: list[tuple[Occur, Q]] = [(Occur.Must, ranks[own])]
    for item in items:
        if isinstance(item, Not):
            clauses.append((Occur.MustNot, node_query(item.item)))
        else:
            clauses.append((Occur.Must, Q.const_score_query(node_query(item), 0.0)))
    clauses += [(Occur.Must, Q.const_score_query(f, 0.0)) for f in _filter_queries(filters)]
    clauses += [(Occur.Should, q) for i, q in enumerate(ranks) if i != own]
    return Q.boolean_query(clauses)


# -- ordering -----------------------------------------------------------------------------------------
@dataclass(order=True)
class _Entry:
    key: tuple[Any, ...]  # comparison key: the sort values, then the id key
    values: list[Any] = field(compare=False)  # sort values as the cursor carries them (id appended later)
    addr: Any = field(compare=False)
    score: float = field(compare=False, default=0.0)


_entry_key = attrgetter("key")  # sorting on the key alone skips the dataclass's Python-level __lt__


def _year_values(sort: str, year: int | None) -> tuple[int, int]:
    if year is None:
        return 1, 0
    return 0, -year if sort == "year_desc" else year


def _cursor_key(sort: str, ranked: bool, after: list[Any]) -> tuple[Any, ...]:
    """The comparison key of a cursor made by ``_page`` (``InvalidInput`` when it cannot be)."""
    try:
        *values, doc_id = after
        if sort == "relevance":
            (score,) = values
            return (-float(score), *id_key(doc_id))
        if sort == "title":
            (title,) = values
            return (str(title), *id_key(doc_id))
        missing, year = values
        return (int(missing), int(year), *id_key(doc_id))
    except (TypeError, ValueError) as exc:
        raise InvalidInput("cursor does not belong to this sort order") from exc


# How long a write waits for another process (a CLI harvest, a server) to finish its commit.
_LOCK_WAIT = 60.0

# The writer's indexing threads and their memory budget. Documents are built by one Python thread
# (``to_tantivy`` plus ``add_document``, about as much CPU per document as tantivy's own indexing), so
# one indexing thread keeps up with it; a second only competes with it for the cores. A segment is
# written out each time the budget fills: 48 MB (about 30,000 documents) writes segments in the
# background while documents keep coming, where 256 MB held a whole 100k rebuild in memory and wrote
# it out inside the final commit (8-15 µs per document, now 3-5). Same-window runs of bench/search.py
# at 100k: 1.3x to 2x the documents/s of (256 MB, 2 threads); at 1M about as many segments in the end
# (7 against 8). The price at 100k is 3 segments instead of 2: a query costs about 5% more CPU.
WRITER_HEAP_BYTES = 48_000_000
WRITER_THREADS = 1


# Facets of a large index are counted on a second thread while the hits are searched: tantivy releases
# the GIL in both, and each walks every matching document (at 1M documents a broad query spends
# 30-60 ms in each), so on an idle second core the slowest searches take about the longer of the two
# instead of their sum. Below PARALLEL_FACETS_DOCS both take a few ms or less, and handing the work to
# another thread and back costs more than it saves under load.
PARALLEL_FACETS_DOCS = 250_000
_FACET_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="tantivy-facets")


def parallel_facets(searcher: tantivy.Searcher) -> bool:
    """Whether ``_search`` counts the facets on a second thread for this searcher's index."""
    return int(searcher.num_docs) >= PARALLEL_FACETS_DOCS


@dataclass
class _Index:
    """One open index folder: its tantivy Index, and its writer once something was written."""

    name: str
    path: Path
    index: tantivy.Index
    lock: threading.Lock = field(default_factory=threading.Lock)
    writer: Any = None
    dirty: bool = False


class TantivyBackend:
    """tantivy implementation of ``search.backend.SearchBackend``."""

    name = "tantivy"

    def __init__(
        self, directory: Path | str, heap_bytes: int = WRITER_HEAP_BYTES, threads: int = WRITER_THREADS
    ) -> None:
        self.dir = Path(directory)
        self._alias = AliasFile(self.dir)
        self.heap_bytes = heap_bytes
        self.threads = threads
        self._lock = threading.Lock()
        self._open: dict[str, _Index] = {}
        # (identity of the alias file, live index): the alias is resolved on every request, and a stat
        # is far cheaper than reading and parsing it; os.replace (the only way it changes) gives the
        # file a new inode and mtime, so a changed alias is always read again.
        self._live_cache: tuple[tuple[int, int, int], str] | None = None

    # -- plumbing -----------------------------------------------------------------------------------
    @staticmethod
    async def _run(fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    def _path(self, index: str) -> Path:
        if not index.startswith(PREFIX) or "/" in index or os.sep in index or index.endswith(".creating"):
            raise InvalidInput(f"not an index name: {index!r}")
        return self.dir / index

    def _live(self) -> str:
        """The live index name (``NotFound`` before ``open``), re-read only when the alias file changed."""
        try:
            st = os.stat(self._alias.path)
        except FileNotFoundError:
            return self._alias.target(None)  # raises NotFound, or reads an alias that just appeared
        ident = (st.st_ino, st.st_mtime_ns, st.st_size)
        cached = self._live_cache
        if cached is not None and cached[0] == ident:
            return cached[1]
        live = self._alias.target(None)
        self._live_cache = (ident, live)
        return live

    def _handle(self, index: str) -> _Index:
        """The open index ``index`` (opened on first use)."""
        with self._lock:
            handle = self._open.get(index)
            if handle is None:
                path = self._path(index)
                if not (path / "meta.json").exists():
                    raise NotFound(f"search index {index} does not exist")
                opened = tantivy.Index.open(str(path))
                opened.register_tokenizer(_TOKENIZER, _analyzer())
                handle = _Index(index, path, opened)
                self._open[index] = handle
            return handle

    def _commit(self, handle: _Index) -> None:
        """Commit pending writes (caller holds ``handle.lock``), release the writer, reload readers.

        tantivy allows one writer per index folder across processes. Holding it between commits would
        make a running server and a CLI harvest (each indexing what it committed) lock each other out,
        so the writer lives only from the first write to the next commit.
        """
        writer, handle.writer = handle.writer, None
        if writer is not None:
            if handle.dirty:
                writer.commit()
            handle.dirty = False
            writer.wait_merging_threads()  # consumes the writer: frees the folder's writer lock
        handle.index.reload()

    def _writer(self, handle: _Index) -> Any:
        """The index's writer, waiting (up to ``_LOCK_WAIT`` seconds) while another process holds it."""
        if handle.writer is not None:
            return handle.writer
        deadline = time.monotonic() + _LOCK_WAIT
        delay = 0.02
        while True:
            try:
                handle.writer = handle.index.writer(self.heap_bytes, self.threads)
                return handle.writer
            except ValueError as exc:  # tantivy says "LockBusy" this way; nothing else is expected here
                if "LockBusy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    # A tree error, not tantivy's ValueError: the API answers 503, the CLI one line.
                    raise BackendUnavailable(
                        f"search index {handle.name} is being written by another process "
                        f"(still after {_LOCK_WAIT:.0f} s); try again when it has finished"
                    ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    # -- lifecycle ----------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the folder and an empty live index when there is none."""
        self.dir.mkdir(parents=True, exist_ok=True)
        live = self._alias.live()
        if live is None or not (self.dir / live / "meta.json").exists():
            await self.swap_alias(await self.create_index())

    async def close(self) -> None:
        """Commit what was written and release every writer."""
        await self._run(self._close_all)

    def _close_all(self) -> None:
        with self._lock:
            handles = list(self._open.values())
            self._open.clear()
        for handle in handles:
            self._release(handle, commit=True)

    @staticmethod
    def _release(handle: _Index, commit: bool) -> None:
        with handle.lock:
            writer, handle.writer = handle.writer, None
            if writer is None:
                return
            if commit and handle.dirty:
                writer.commit()
            elif handle.dirty:
                writer.rollback()
            handle.dirty = False
            writer.wait_merging_threads()  # consumes the writer: frees the folder's writer lock

    async def live_index(self) -> str | None:
        """Name of the index folder behind the alias."""
        return self._alias.live()

    async def list_indexes(self) -> list[str]:
        """Every complete index folder, oldest first (names carry their creation time)."""
        if not self.dir.exists():
            return []
        return sorted(
            p.name for p in self.dir.glob(f"{PREFIX}*") if p.is_dir() and not p.name.endswith(".creating")
        )

    async def create_index(self) -> str:
        """Create a new, empty index folder (not live) and return its name."""
        return await self._run(self._create_index)

    def _create_index(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        name = new_index_name(lambda n: self._path(n).exists() or (self.dir / f"{n}.creating").exists())
        path = self._path(name)
        tmp = path.with_name(name + ".creating")
        tmp.mkdir()
        tantivy.Index(SCHEMA, path=str(tmp), reuse=False)  # writes meta.json; nothing stays open
        os.replace(tmp, path)  # the folder appears complete or not at all
        return name

    async def swap_alias(self, new_index: str) -> str | None:
        """Point the alias at ``new_index``; keep the previous index, drop older ones. Returns the old."""
        return await self._run(self._swap_alias, new_index)

    def _swap_alias(self, new_index: str) -> str | None:
        if not (self._path(new_index) / "meta.json").exists():
            raise NotFound(f"search index {new_index} does not exist")
        existing = [p.name for p in self.dir.glob(f"{PREFIX}*") if p.is_dir()]
        self._live_cache = None  # our own swap is seen at once, whatever the clock's granularity
        return self._alias.swap(new_index, existing, self._delete)

    async def drop_index(self, index: str) -> None:
        """Delete an index folder that is not live (its writer is rolled back first)."""
        if index == self._alias.live():
            raise Conflict(f"search index {index} is live; swap the alias first")
        await self._run(self._delete, index)

    def _delete(self, index: str) -> None:
        path = self._path(index)
        with self._lock:
            handle = self._open.pop(index, None)
        if handle is not None:
            self._release(handle, commit=False)
        shutil.rmtree(path, ignore_errors=True)

    # -- writing ------------------------------------------------------------------------------------
    async def bulk(
        self, docs: Sequence[IndexDocument], delete_ids: Sequence[str] = (), index: str | None = None
    ) -> BulkReport:
        """Insert or replace ``docs`` and delete ``delete_ids`` (visible after ``refresh``)."""
        handle = self._handle(self._alias.target(index))
        return await self._run(self._bulk, handle, list(docs), list(delete_ids))

    def _bulk(self, handle: _Index, docs: list[IndexDocument], delete_ids: list[str]) -> BulkReport:
        report = BulkReport()
        latest = {doc.id: doc for doc in docs}  # the last version of an id in one batch wins
        wanted = [i for i in dict.fromkeys(delete_ids) if i not in latest]
        with handle.lock:
            if wanted:
                # Counted on the committed state, as the other backends count existing rows.
                report.deleted = _total(
                    handle.index.searcher().search(Q.term_set_query(SCHEMA, "id", wanted), 1)
                )
            writer = self._writer(handle)
            for doc_id in [*wanted, *latest]:
                writer.delete_documents_by_term("id", doc_id)  # a delete only hits older documents
            handle.dirty = True
            # Each document is built and handed over at once rather than a batch built first: freed
            # right after, its memory is reused while still in cache (about 10 µs less per document
            # than building the whole batch, then adding it).
            for doc in latest.values():
                try:
                    tdoc = to_tantivy(doc)
                except (ValueError, TypeError) as exc:
                    report.failed.append((doc.id, str(exc)))
                    continue
                writer.add_document(tdoc)
                report.indexed += 1
        return report

    async def refresh(self, index: str | None = None) -> None:
        """Commit what was written and reload the reader."""
        handle = self._handle(self._alias.target(index))

        def commit() -> None:
            with handle.lock:
                self._commit(handle)

        await self._run(commit)

    async def get_position(self, index: str | None = None) -> int:
        """The store change sequence the index's committed documents cover (0 when never set)."""
        path = self._path(self._alias.target(index))
        try:
            return int(json.loads((path / "position.json").read_text())["position"])
        except FileNotFoundError:
            if not (path / "meta.json").exists():
                raise NotFound(f"search index {path.name} does not exist") from None
            return 0

    async def set_position(self, seq: int, index: str | None = None) -> None:
        """Commit the documents written so far, then record ``seq`` (never ahead of the commit)."""
        handle = self._handle(self._alias.target(index))

        def write() -> None:
            with handle.lock:
                self._commit(handle)
                tmp = handle.path / f"position.json.{threading.get_ident()}.tmp"
                tmp.write_text(json.dumps({"position": seq}))
                os.replace(tmp, handle.path / "position.json")

        await self._run(write)

    async def count(self, index: str | None = None) -> int:
        """Number of committed, live documents."""
        handle = self._handle(self._alias.target(index))
        return int(handle.index.searcher().num_docs)

    async def get(self, doc_id: str) -> IndexDocument | None:
        """One document of the live index, as it was indexed."""
        handle = self._handle(self._alias.target(None))

        def read() -> IndexDocument | None:
            searcher = handle.index.searcher()
            hits = searcher.search(Q.term_query(SCHEMA, "id", doc_id), 1, count=False).hits
            return _load(searcher, hits[0][1]) if hits else None

        return await self._run(read)

    # -- searching ----------------------------------------------------------------------------------
    async def search(self, query: ParsedQuery, request: SearchRequest) -> BackendResult:
        """Run a parsed query with the request's filters, facets, sort and paging (page or cursor)."""
        handle = self._handle(self._live())
        return await self._run(self._search, handle, query, request)

    def _search(self, handle: _Index, query: ParsedQuery, request: SearchRequest) -> BackendResult:
        searcher = handle.index.searcher()  # one snapshot for hits, total and facets
        ranked = request.sort == "relevance" and bool(query.positive_terms)
        matching, scored = compiled(
            query.root, query.positive_terms, _filter_key(request), ranked, query.as_typed
        )
        pending: Future[dict[str, list[FacetValue]]] | None = None
        if request.facets and parallel_facets(searcher):
            pending = _FACET_POOL.submit(_facets, searcher, matching, request.facets, request.facet_size)
        if request.size:
            hits, total, next_cursor = self._page(searcher, scored, request, ranked)
        else:
            hits, next_cursor = [], None
            total = _total(searcher.search(matching, 1))  # tantivy wants a limit > 0
        if pending is not None:
            facets = pending.result()
        elif request.facets:
            facets = _facets(searcher, matching, request.facets, request.facet_size)
        else:
            facets = {}
        return BackendResult(total=total, hits=hits, facets=facets, next_cursor=next_cursor)

    def _page(
        self, searcher: tantivy.Searcher, query: Q, request: SearchRequest, ranked: bool
    ) -> tuple[list[BackendHit], int, str | None]:
        size = request.size
        if request.cursor:
            after = _cursor_key(request.sort, ranked, decode_cursor(request.cursor))
            limit = size + 1
            while True:
                entries, total = _ordered(searcher, query, request.sort, ranked, limit)
                start = next((i for i, e in enumerate(entries) if e.key > after), len(entries))
                if len(entries) - start >= size + 1 or len(entries) < limit:
                    break
                limit = max(limit * 4, start + size + 1)  # the cursor lies deeper: widen the window
            window = entries[start : start + size + 1]
        else:
            offset = (request.page - 1) * size
            entries, total = _ordered(searcher, query, request.sort, ranked, offset + size + 1)
            window = entries[offset:]
        hits: list[BackendHit] = []
        for entry in window[:size]:
            doc = _load(searcher, entry.addr)
            hits.append(
                BackendHit(
                    doc=doc,
                    score=entry.score if request.sort == "relevance" else None,
                    sort_values=[*entry.values, doc.id],
                )
            )
        next_cursor = encode_cursor(hits[-1].sort_values) if len(window) > size and hits else None
        return hits, total, next_cursor

    # -- autocomplete and vocabulary ----------------------------------------------------------------
    async def autocomplete(self, field: str, prefix: ParsedQuery, size: int) -> list[str]:
        """Completions from any word of titles, subjects or author names; ranked by the semantics."""
        term = prefix.root
        if not isinstance(term, Term) or not term.folded or size <= 0:
            return []
        if field not in _COMPLETED:
            raise InvalidInput(f"autocomplete field must be title, author or subject, not {field!r}")
        handle = self._handle(self._alias.target(None))
        return await self._run(self._autocomplete, handle, field, term, size)

    @staticmethod
    def _autocomplete(handle: _Index, field: str, term: Term, size: int) -> list[str]:
        searcher = handle.index.searcher()
        cap = max(_COMPLETION_CANDIDATES, size * 10)
        stem, names = _COMPLETED[field]
        candidates: list[str] = []
        # Exact-diacritic candidates first, so a cap keeps them; typed without diacritics, the folded
        # candidates hold them too (they are ranked exact first all the same).
        for exact in (True, False) if term.exact != term.folded else (False,):
            variant = "exact" if exact else "folded"
            toks = term.exact if exact else term.folded
            # The typed words anywhere in the field (a phrase whose last word is a prefix).
            q = words_query(f"{stem}_{variant}", toks, phrase=True, prefix=True)
            for _, addr in searcher.search(q, cap, count=False).hits:
                # Only the strings completed are read from the stored body (no model validation).
                body = json.loads(cast(str, searcher.doc(addr).get_first("body")))
                for name in names:
                    value = body.get(name)
                    candidates.extend([value] if isinstance(value, str) else value or [])
        return rank_completions(candidates, term, size, whole=field != "title")

    async def frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """Document frequency in ``text_folded`` of each of ``words`` the index holds."""
        handle = self._handle(self._alias.target(None))

        def read() -> dict[str, int]:
            searcher = handle.index.searcher()
            counts = ((w, int(searcher.doc_freq("text_folded", w))) for w in dict.fromkeys(words))
            return {w: n for w, n in counts if n > 0}

        return await self._run(read)

    async def vocabulary(self, folded_prefix: str, limit: int) -> list[tuple[str, int]]:
        """Terms of ``text_folded`` starting with ``folded_prefix``: document frequency desc, then term."""
        if limit <= 0:
            return []
        handle = self._handle(self._alias.target(None))

        def read() -> list[tuple[str, int]]:
            terms = handle.index.searcher().terms_with_prefix("text_folded", folded_prefix)
            ranked = sorted(((str(t), int(n)) for t, n in terms), key=lambda tn: (-tn[1], tn[0]))
            return ranked[:limit]

        return await self._run(read)


# -- helpers on a searcher ------------------------------------------------------------------------------
def _analyzer() -> tantivy.TextAnalyzer:
    # Text arrives analysed by search.analysis; split on spaces again, no filter (as the other backends).
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


_validate_document = IndexDocument.__pydantic_validator__.validate_json  # model_validate_json minus a call


def _load(searcher: tantivy.Searcher, addr: tantivy.DocAddress) -> IndexDocument:
    body = searcher.doc(addr).get_first("body")  # stored on every document (``to_tantivy``)
    doc: IndexDocument = _validate_document(cast(str, body))
    return doc


def _total(result: tantivy.SearchResult) -> int:
    """The hit count of a search run with ``count=True`` (the default)."""
    return result.count or 0  # type: ignore[attr-defined]  # present at runtime, not in tantivy's stub


def _id_keys(searcher: tantivy.Searcher, addrs: list[Any]) -> list[tuple[int, int, int, int]]:
    columns = [searcher.fast_field_values(name, addrs) for name in _ID_KEYS]
    if any(None in column for column in columns):  # a missing value counts as 0 (never for our documents)
        columns = [[int(v or 0) for v in column] for column in columns]
    return list(zip(*columns, strict=True))


def _ordered(
    searcher: tantivy.Searcher, query: Q, sort: str, ranked: bool, limit: int
) -> tuple[list[_Entry], int]:
    """The first ``limit`` matches in the exact order of ``search.semantics`` (sort value, then id).

    tantivy orders by one value and breaks ties by document address; the group of equal values at the
    end of the window may therefore be cut anywhere. It is refetched whole (or, for scores, the window
    widened until it holds it whole) and ordered by id.
    """
    if sort == "relevance" and not ranked:
        # Every score is 0: the order is the id order, which tantivy sorts natively.
        result = searcher.search(query, limit, order_by_field="id", order=Order.Asc)
        entries = [_Entry((-0.0, *id_key(v)), [0.0], addr) for v, addr in result.hits]
        return entries, _total(result)
    if sort == "relevance":
        return _ordered_by_score(searcher, query, limit)
    if sort == "title":
        result = searcher.search(query, limit, order_by_field="title_sort", order=Order.Asc)
        raw = [(str(v)[len(_SORT_MARK) :], addr) for v, addr in result.hits]

        def same_as(value: Any) -> Q:
            return Q.term_query(SCHEMA, "title_sort", _SORT_MARK + value)

        def values_of(value: Any) -> tuple[list[Any], tuple[Any, ...]]:
            return [value], (value,)
    else:
        order = Order.Desc if sort == "year_desc" else Order.Asc  # documents without year come last
        result = searcher.search(query, limit, order_by_field="year", order=order)
        raw = [(v, addr) for v, addr in result.hits]

        def same_as(value: Any) -> Q:
            if value is None:
                return _everything_but([Q.exists_query("year")])
            return Q.term_query(SCHEMA, "year", value)

        def values_of(value: Any) -> tuple[list[Any], tuple[Any, ...]]:
            values = list(_year_values(sort, value))
            return values, tuple(values)

    total = _total(result)
    head = raw
    tail: list[_Entry] = []
    if len(raw) == limit and total > limit:
        # The last group may continue past the window: refetch it in id order.
        last = raw[-1][0]
        head = [r for r in raw if r[0] != last]
        values, key = values_of(last)
        group = searcher.search(
            Q.boolean_query([(Occur.Must, query), (Occur.Must, same_as(last))]),
            limit - len(head),
            count=False,
            order_by_field="id",
            order=Order.Asc,
        )
        tail = [_Entry((*key, *id_key(v)), values, addr) for v, addr in group.hits]
    keys = _id_keys(searcher, [addr for _, addr in head]) if head else []
    entries = []
    for (value, addr), idk in zip(head, keys, strict=True):
        values, key = values_of(value)
        entries.append(_Entry((*key, *idk), values, addr))
    entries.sort(key=_entry_key)  # stable, as the comparison sort it replaces
    return entries + tail, total


def _ordered_by_score(searcher: tantivy.Searcher, query: Q, limit: int) -> tuple[list[_Entry], int]:
    # One more than the limit, so that a group of equal scores running past the limit is seen (and
    # the window widened until it holds the group whole): tantivy cuts such a group by address, and
    # the page must hold the group's first ids, not any of them.
    window = limit + 1
    while True:
        result = searcher.search(query, window)
        hits = result.hits
        total = _total(result)
        if len(hits) < window or window >= _MAX_TIE_WINDOW:
            break
        if hits[-1][0] != hits[limit - 1][0]:
            break  # the group of the limit-th score ends inside the window
        window *= 4
    if len(hits) > limit:
        boundary = hits[limit - 1][0]
        hits = [h for h in hits if h[0] >= boundary]
    keys = _id_keys(searcher, [addr for _, addr in hits]) if hits else []
    entries = [
        _Entry((-float(score), *idk), [float(score)], addr, float(score))
        for (score, addr), idk in zip(hits, keys, strict=True)
    ]
    entries.sort(key=_entry_key)
    return entries[:limit], total


# One validation call for a whole facet list costs less than building the values one by one, even
# bypassing validation (about 0.6 µs a value against 0.8-1 µs).
_facet_values = TypeAdapter(list[FacetValue]).validate_python
# The year facet lists every year of the matches (50-70 values a query): their keys arrive as floats,
# and the text of each is memoised (about 10 µs a query).
_year_text = functools.lru_cache(maxsize=4096)(lambda key: str(int(key)))


def _facets(
    searcher: tantivy.Searcher, query: Q, names: Sequence[str], size: int
) -> dict[str, list[FacetValue]]:
    """Exact facet counts: ``terms`` aggregations on the fast fields, ordered as the semantics say."""
    out: dict[str, list[FacetValue]] = {}
    want = max(size * 4, 1000)
    pending = list(dict.fromkeys(names))
    while pending:
        aggs = {name: _facet_agg(name, want) for name in pending}
        answer = searcher.aggregate(query, aggs)
        retry: list[str] = []
        for name in pending:
            buckets = answer.get(name, {}).get("buckets", [])
            if len(buckets) >= want and name == "year":
                retry.append(name)  # the semantics list every year: ask for more
            elif name == "year":
                # already in year order (the aggregation orders by key): no sort, no intermediate tuples
                years = [{"value": _year_text(b["key"]), "count": b["doc_count"]} for b in buckets]
                out[name] = _facet_values(years)
            else:
                # (-count, value) tuples sort in the semantics' order without a Python key function
                ranked = sorted([(-b["doc_count"], b["key"]) for b in buckets])
                if len(ranked) >= want and ranked[size - 1][0] == ranked[-1][0]:
                    retry.append(name)  # values tied with the last kept one may be missing: ask for more
                    continue
                out[name] = _facet_values([{"value": v, "count": -c} for c, v in ranked[:size]])
        pending = retry
        want *= 8
    return {name: out[name] for name in names}


def _facet_agg(name: str, want: int) -> dict[str, Any]:
    """The ``terms`` aggregation of one facet: ``want`` values (by count desc; years by year asc)."""
    terms: dict[str, Any] = {"field": _FACET_FIELD[name], "size": want, "segment_size": want * 10}
    if name == "year":
        terms["order"] = {"_key": "asc"}
    return {"terms": terms}

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
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import tantivy
from tantivy import Query as Q

from schemas.errors import BackendUnavailable, Conflict, InvalidInput, NotFound
from schemas.search import FacetValue, IndexDocument, SearchRequest

from .alias_file import PREFIX, AliasFile, new_index_name
from .backend import BackendHit, BackendResult, BulkReport
from .fuzzy import damerau
from .query_ast import ParsedQuery, Term
from .semantics import (
    decode_cursor,
    encode_cursor,
    rank_completions,
)
from .tantivy_query import (
    ConstantScores,
    _filter_key,
    compiled,
    constant_scores,
    words_query,
)
from .tantivy_results import (
    _cursor_key,
    _facets,
    _ordered,
    _total,
)
from .tantivy_schema import (
    _COMPLETED,
    _COMPLETION_CANDIDATES,
    _TOKENIZER,
    SCHEMA,
    _analyzer,
    _load,
    to_tantivy,
)

T = TypeVar("T")

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
        constant = None
        if ranked and query.as_typed is None:
            constant = constant_scores(query.positive_terms, matching)
        if request.size:
            hits, total, next_cursor = self._page(searcher, scored, request, ranked, constant)
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
        self,
        searcher: tantivy.Searcher,
        query: Q,
        request: SearchRequest,
        ranked: bool,
        constant: ConstantScores | None,
    ) -> tuple[list[BackendHit], int, str | None]:
        size = request.size
        if request.cursor:
            after = _cursor_key(request.sort, ranked, decode_cursor(request.cursor))
            limit = size + 1
            while True:
                entries, total = _ordered(searcher, query, request.sort, ranked, limit, constant)
                start = next((i for i, e in enumerate(entries) if e.key > after), len(entries))
                if len(entries) - start >= size + 1 or len(entries) < limit:
                    break
                limit = max(limit * 4, start + size + 1)  # the cursor lies deeper: widen the window
            window = entries[start : start + size + 1]
        else:
            offset = (request.page - 1) * size
            entries, total = _ordered(searcher, query, request.sort, ranked, offset + size + 1, constant)
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
        read: set[tuple[int, int]] = set()
        # Exact-diacritic candidates first, so a cap keeps them; typed without diacritics, the folded
        # candidates hold them too (they are ranked exact first all the same).
        for exact in (True, False) if term.exact != term.folded else (False,):
            fld = f"{stem}_{'exact' if exact else 'folded'}"
            # The typed words anywhere in the field (a phrase whose last word is a prefix). Candidates
            # all score the same, so the first documents come, read from a few blocks of the document
            # store. (A one-word prefix ranked as the BM25 union of the words it starts, found with
            # block-max pruning, scattered its candidates over as many blocks: more CPU in all.)
            q = words_query(fld, term.exact if exact else term.folded, phrase=True, prefix=True)
            for _, addr in searcher.search(q, cap, count=False).hits:
                key = (addr.segment_ord, addr.doc)
                if key in read:  # found by both passes: its strings are candidates already
                    continue
                read.add(key)
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

    async def vocabulary(
        self, folded_prefix: str, limit: int, near: tuple[str, int] | None = None
    ) -> list[tuple[str, int]]:
        """Terms of ``text_folded`` starting with ``folded_prefix``: document frequency desc, then term.

        With ``near`` (a word, an edit budget), only the terms within the budget, the word itself
        left out, as the search node's spell checker answers: the ``limit`` most frequent terms of a
        large vocabulary's prefix could leave out the rare word a slip was made from.
        """
        if limit <= 0:
            return []
        handle = self._handle(self._alias.target(None))

        def read() -> list[tuple[str, int]]:
            found = handle.index.searcher().terms_with_prefix("text_folded", folded_prefix)
            terms = ((str(t), int(n)) for t, n in found)
            if near is not None:
                word, edits = near
                terms = ((t, n) for t, n in terms if t != word and damerau(word, t, edits) <= edits)
            ranked = sorted(terms, key=lambda tn: (-tn[1], tn[0]))
            return ranked[:limit]

        return await self._run(read)


# -- helpers on a searcher ------------------------------------------------------------------------------

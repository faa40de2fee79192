"""The embedded search backend: SQLite FTS5 index files in one folder, behind an atomically swapped alias.

Layout of ``index_dir``::

    alias                       {"live": "lienhop-20250101T...", "previous": "..."}  (os.replace'd)
    lienhop-<timestamp>.sqlite  one versioned index each (+ -wal/-shm while open)

Each index file holds ``docs`` (display JSON + columns for filters, sorts and facets + the analysed
strings), ``doc_values`` (subjects and identifiers, one row per value), an external-content FTS5 table
``fts`` over the eight analysed columns and a ``meta`` table (the indexer's position).

All sqlite3 calls run on threads: one writer thread (a single writer per process, which is what SQLite
wants) and a small pool of reader threads, each with its own connection per index file; WAL mode lets
searches go on while a rebuild writes another file, or while the live file is updated. The matching and
ranking rules are those of ``search.semantics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from schemas.errors import Conflict, InvalidInput, NotFound
from schemas.search import ANALYSED, FacetValue, IndexDocument, SearchRequest

from .alias_file import PREFIX, AliasFile, new_index_name
from .backend import BackendHit, BackendResult, BulkReport
from .query_ast import And, Keyword, MatchAll, Node, Not, Or, ParsedQuery, Term, YearRange
from .semantics import (
    EXACT_BOOST,
    FIELD_WEIGHTS,
    PHRASE_BOOST,
    PHRASE_EXACT_BOOST,
    decode_cursor,
    encode_cursor,
    rank_completions,
)

T = TypeVar("T")

_BM25 = "-bm25(fts, 0, {title}, 0, {author}, 0, {subject}, 0, {text})".format(**FIELD_WEIGHTS)
_FOLDED_ALL = "{title_folded author_folded subject_folded text_folded}"
_COLUMN = {"any": "text", "title": "title", "author": "author", "subject": "subject"}
_KEYWORD_COLUMN = {"member": "member", "type": "type", "lang": "language"}
_MULTI_VALUED = {"isbn", "issn", "doi"}
_MAX_BOOSTED_TERMS = 8  # bound the work per query; later terms still match and score by BM25

SCHEMA = f"""
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE docs(
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    member TEXT NOT NULL,
    type TEXT,
    language TEXT,
    year INTEGER,
    title_sort TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    {", ".join(f"{c} TEXT NOT NULL DEFAULT ''" for c in ANALYSED)}
);
CREATE INDEX docs_member ON docs(member);
CREATE INDEX docs_year ON docs(year);
CREATE INDEX docs_title_sort ON docs(title_sort, id);
CREATE TABLE doc_values(
    doc INTEGER NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (doc, kind, value)
) WITHOUT ROWID;
CREATE INDEX doc_values_value ON doc_values(kind, value);
CREATE VIRTUAL TABLE fts USING fts5(
    {", ".join(ANALYSED)},
    content='docs', content_rowid='rowid',
    tokenize="unicode61 remove_diacritics 0", prefix='2 3'
);
CREATE VIRTUAL TABLE vocab USING fts5vocab(fts, 'col');
INSERT INTO meta(key, value) VALUES ('position', '0'), ('schema', '1');
-- Fewer, larger segment merges while bulk indexing (x1.8 faster); `optimize` merges all after a rebuild.
INSERT INTO fts(fts, rank) VALUES ('automerge', 16);
INSERT INTO fts(fts, rank) VALUES ('crisismerge', 64);
"""


# -- FTS5 / SQL compilation (pure) -----------------------------------------------------------------
def _phrase(toks: Sequence[str], prefix: bool) -> str:
    return '"' + " ".join(toks) + '"' + ("*" if prefix else "")


def term_fts(term: Term, exact: bool = False, column: str | None = None) -> str:
    """FTS5 expression of a Term on one analysed column (default: the twin of its field)."""
    toks = term.exact if exact else term.folded
    col = column or f"{_COLUMN[term.field]}_{'exact' if exact else 'folded'}"
    if term.phrase:
        body = _phrase(toks, term.prefix)
    else:
        body = " AND ".join(_phrase([t], term.prefix and i == len(toks) - 1) for i, t in enumerate(toks))
    if col == "all_folded":
        col = _FOLDED_ALL
    return f"{col} : ({body})"


def _ranked_fts(term: Term) -> str:
    # An `any` term searched in all four folded columns matches the same documents as in text_folded
    # (text holds title, authors and subjects) but lets bm25() weigh title/author/subject hits.
    return term_fts(term, column="all_folded" if term.field == "any" else None)


def node_fts(node: Node) -> str | None:
    """The whole node as one FTS5 expression, or ``None`` when it needs SQL (keywords, years, lone NOT)."""
    if isinstance(node, Term):
        return _ranked_fts(node)
    if isinstance(node, Or):
        parts = [node_fts(item) for item in node.items]
        return None if any(p is None for p in parts) else "(" + " OR ".join(parts) + ")"  # type: ignore[arg-type]
    if isinstance(node, And):
        pos = [node_fts(i) for i in node.items if not isinstance(i, Not)]
        neg = [node_fts(i.item) for i in node.items if isinstance(i, Not)]
        if not pos or any(p is None for p in pos + neg):
            return None
        return "(" + " AND ".join(pos) + ")" + "".join(f" NOT ({n})" for n in neg)  # type: ignore[arg-type]
    return None


def node_sql(node: Node, params: list[Any]) -> str:
    """A never-NULL SQL predicate over ``docs d`` for any node (parameters appended to ``params``)."""
    if isinstance(node, Term):
        params.append(term_fts(node))
        return "d.rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?)"
    if isinstance(node, Keyword):
        if node.field in _MULTI_VALUED:
            params.extend((node.field, node.value))
            return "d.rowid IN (SELECT doc FROM doc_values WHERE kind = ? AND value = ?)"
        params.append(node.value)
        return f"d.{_KEYWORD_COLUMN[node.field]} IS ?"
    if isinstance(node, YearRange):
        parts = ["d.year IS NOT NULL"]
        if node.start is not None:
            parts.append("d.year >= ?")
            params.append(node.start)
        if node.end is not None:
            parts.append("d.year <= ?")
            params.append(node.end)
        return "(" + " AND ".join(parts) + ")"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(node_sql(item, params) for item in node.items) + ")"
    if isinstance(node, Not):
        return f"NOT {node_sql(node.item, params)}"
    return "1"


def filters_sql(request: SearchRequest, params: list[Any]) -> list[str]:
    """SQL predicates of the request's filters (OR within a field, AND between)."""
    f = request.filters
    out: list[str] = []
    for column, values in (("member", f.member), ("type", f.type), ("language", f.language)):
        if values:
            out.append(f"d.{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if f.subject:
        out.append(
            "d.rowid IN (SELECT doc FROM doc_values WHERE kind = 'subject' "
            f"AND value IN ({', '.join('?' * len(f.subject))}))"
        )
        params.extend(f.subject)
    if f.year_from is not None:
        out.append("d.year >= ?")
        params.append(f.year_from)
    if f.year_to is not None:
        out.append("d.year <= ?")
        params.append(f.year_to)
    return out


def boosts_sql(terms: Sequence[Term], params: list[Any]) -> str:
    """The exact-diacritic and title-phrase boosts of ``search.semantics`` as a SQL sum."""
    parts: list[str] = []
    in_fts = "(CASE WHEN d.rowid IN (SELECT rowid FROM fts WHERE fts MATCH ?) THEN {boost} ELSE 0 END)"
    for term in terms[:_MAX_BOOSTED_TERMS]:
        parts.append(in_fts.format(boost=EXACT_BOOST))
        params.append(term_fts(term, exact=True))
        if len(term.folded) >= 2:
            as_phrase = Term(term.field, term.exact, term.folded, phrase=True, prefix=term.prefix)
            parts.append(in_fts.format(boost=PHRASE_BOOST))
            params.append(term_fts(as_phrase, column="title_folded"))
            parts.append(in_fts.format(boost=PHRASE_EXACT_BOOST))
            params.append(term_fts(as_phrase, exact=True, column="title_exact"))
    return " + ".join(parts) if parts else "0"


_SORT_KEYS = {
    "relevance": ("-h.score", "d.id"),
    "year_desc": ("d.year IS NULL", "COALESCE(-d.year, 0)", "d.id"),
    "year_asc": ("d.year IS NULL", "COALESCE(d.year, 0)", "d.id"),
    "title": ("d.title_sort", "d.id"),
}


# -- the backend --------------------------------------------------------------------------------------
class SqliteBackend:
    """SQLite FTS5 implementation of ``search.backend.SearchBackend``."""

    name = "sqlite"

    def __init__(self, directory: Path | str, readers: int = 4) -> None:
        self.dir = Path(directory)
        self._alias = AliasFile(self.dir)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="lienhop-fts-write")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="lienhop-fts-read")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[tuple[str, sqlite3.Connection]] = []
        self._dead: set[str] = set()

    # -- plumbing -----------------------------------------------------------------------------------
    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, partial(fn, *args))

    def _path(self, index: str) -> Path:
        if not index.startswith(PREFIX) or "/" in index or os.sep in index:
            raise InvalidInput(f"not an index name: {index!r}")
        return self.dir / f"{index}.sqlite"

    def _conn(self, index: str) -> sqlite3.Connection:
        """This thread's connection to an index file (opened on first use)."""
        conns: dict[str, sqlite3.Connection] = getattr(self._local, "conns", None) or {}
        self._local.conns = conns
        for stale in [p for p in conns if p in self._dead]:
            conns.pop(stale)
        path = str(self._path(index))
        conn = conns.get(path)
        if conn is None:
            if not os.path.exists(path):
                raise NotFound(f"search index {index} does not exist")
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute("PRAGMA cache_size=-131072")
            conn.execute("PRAGMA mmap_size=268435456")
            conn.execute("PRAGMA busy_timeout=10000")
            conns[path] = conn
            with self._lock:
                self._conns.append((path, conn))
        return conn

    # -- lifecycle ----------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the folder and an empty live index when there is none."""
        self.dir.mkdir(parents=True, exist_ok=True)
        live = self._alias.live()
        if live is None or not self._path(live).exists():
            await self.swap_alias(await self.create_index())

    async def close(self) -> None:
        """Stop the threads and close every connection."""
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._lock:
            for _, conn in self._conns:
                conn.close()
            self._conns.clear()

    async def live_index(self) -> str | None:
        return self._alias.live()

    async def list_indexes(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob(f"{PREFIX}*.sqlite"))

    async def create_index(self) -> str:
        return await self._run(self._writer, self._create_index)

    def _create_index(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        name = new_index_name(lambda n: self._path(n).exists())
        path = self._path(name)
        tmp = path.with_suffix(".creating")
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
        finally:
            conn.close()
        os.replace(tmp, path)
        return name

    async def swap_alias(self, new_index: str) -> str | None:
        return await self._run(self._writer, self._swap_alias, new_index)

    def _swap_alias(self, new_index: str) -> str | None:
        if not self._path(new_index).exists():
            raise NotFound(f"search index {new_index} does not exist")
        existing = [p.stem for p in self.dir.glob(f"{PREFIX}*.sqlite")]
        return self._alias.swap(new_index, existing, self._delete_files)

    async def drop_index(self, index: str) -> None:
        if index == self._alias.live():
            raise Conflict(f"search index {index} is live; swap the alias first")
        await self._run(self._writer, self._delete_files, index)

    def _delete_files(self, index: str) -> None:
        path = str(self._path(index))
        self._dead.add(path)
        with self._lock:
            for p, conn in [c for c in self._conns if c[0] == path]:
                conn.close()
                self._conns.remove((p, conn))
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + suffix)

    # -- writing ------------------------------------------------------------------------------------
    async def bulk(
        self, docs: Sequence[IndexDocument], delete_ids: Sequence[str] = (), index: str | None = None
    ) -> BulkReport:
        """Insert or replace ``docs`` by id and delete ``delete_ids`` in one transaction."""
        return await self._run(
            self._writer, self._bulk, self._alias.target(index), list(docs), list(delete_ids)
        )

    def _bulk(self, index: str, docs: list[IndexDocument], delete_ids: list[str]) -> BulkReport:
        conn = self._conn(index)
        latest = {doc.id: doc for doc in docs}  # the last version of an id in one batch wins
        wanted_deletes = [i for i in dict.fromkeys(delete_ids) if i not in latest]
        report = BulkReport()
        conn.execute("BEGIN IMMEDIATE")
        try:
            old = self._existing(conn, list(latest) + wanted_deletes)
            if old:
                conn.executemany(
                    f"INSERT INTO fts(fts, rowid, {', '.join(ANALYSED)}) "
                    f"VALUES ('delete', ?, {', '.join('?' * len(ANALYSED))})",
                    [(rowid, *cols) for rowid, cols in old.values()],
                )
                gone = [(rowid,) for rowid, _ in old.values()]
                conn.executemany("DELETE FROM doc_values WHERE doc = ?", gone)
                conn.executemany("DELETE FROM docs WHERE rowid = ?", gone)
            report.deleted = sum(1 for i in wanted_deletes if i in old)
            next_rowid = conn.execute("SELECT COALESCE(MAX(rowid), 0) + 1 FROM docs").fetchone()[0]
            rows, fts_rows, values = [], [], []
            for doc in latest.values():
                if doc.id in old:
                    rowid = old[doc.id][0]
                else:
                    rowid, next_rowid = next_rowid, next_rowid + 1
                analysed = tuple(getattr(doc, c) for c in ANALYSED)
                body = doc.model_dump_json(exclude=set(ANALYSED))
                rows.append(
                    (
                        rowid,
                        doc.id,
                        doc.member,
                        doc.type,
                        doc.language,
                        doc.year,
                        doc.title_sort,
                        body,
                        *analysed,
                    )
                )
                fts_rows.append((rowid, *analysed))
                values.extend((rowid, "subject", s) for s in doc.subjects)
                for kind in ("isbn", "issn", "doi"):
                    values.extend((rowid, kind, v) for v in getattr(doc, kind))
            conn.executemany(
                f"INSERT INTO docs(rowid, id, member, type, language, year, title_sort, body, "
                f"{', '.join(ANALYSED)}) VALUES ({', '.join('?' * (8 + len(ANALYSED)))})",
                rows,
            )
            conn.executemany(
                f"INSERT INTO fts(rowid, {', '.join(ANALYSED)}) "
                f"VALUES ({', '.join('?' * (1 + len(ANALYSED)))})",
                fts_rows,
            )
            conn.executemany("INSERT OR IGNORE INTO doc_values(doc, kind, value) VALUES (?, ?, ?)", values)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        report.indexed = len(rows)
        return report

    @staticmethod
    def _existing(conn: sqlite3.Connection, ids: list[str]) -> dict[str, tuple[int, tuple[str, ...]]]:
        found: dict[str, tuple[int, tuple[str, ...]]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            sql = (
                f"SELECT id, rowid, {', '.join(ANALYSED)} FROM docs "
                f"WHERE id IN ({', '.join('?' * len(chunk))})"
            )
            for row in conn.execute(sql, chunk):
                found[row[0]] = (row[1], tuple(row[2:]))
        return found

    async def refresh(self, index: str | None = None) -> None:
        """Nothing to do: a committed SQLite transaction is visible at once."""

    async def get_position(self, index: str | None = None) -> int:
        target = self._alias.target(index)
        row = await self._run(
            self._readers,
            lambda: self._conn(target).execute("SELECT value FROM meta WHERE key = 'position'").fetchone(),
        )
        return int(row[0]) if row else 0

    async def set_position(self, seq: int, index: str | None = None) -> None:
        target = self._alias.target(index)
        await self._run(
            self._writer,
            lambda: self._conn(target).execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('position', ?)", (str(seq),)
            ),
        )

    async def count(self, index: str | None = None) -> int:
        target = self._alias.target(index)
        row = await self._run(
            self._readers, lambda: self._conn(target).execute("SELECT count(*) FROM docs").fetchone()
        )
        return int(row[0])

    async def get(self, doc_id: str) -> IndexDocument | None:
        target = self._alias.target(None)

        def read() -> IndexDocument | None:
            row = (
                self._conn(target)
                .execute(f"SELECT body, {', '.join(ANALYSED)} FROM docs WHERE id = ?", (doc_id,))
                .fetchone()
            )
            if row is None:
                return None
            analysed = dict(zip(ANALYSED, row[1:], strict=True))
            return IndexDocument.model_validate({**json.loads(row[0]), **analysed})

        return await self._run(self._readers, read)

    # -- searching ----------------------------------------------------------------------------------
    async def search(self, query: ParsedQuery, request: SearchRequest) -> BackendResult:
        target = self._alias.target(None)
        return await self._run(self._readers, self._search, target, query, request)

    def _search(self, index: str, query: ParsedQuery, request: SearchRequest) -> BackendResult:
        conn = self._conn(index)
        conn.execute("BEGIN")  # one read snapshot for hits, total and facets
        try:
            source, params = self._match(conn, query, request)
            total = conn.execute(f"SELECT count(*) FROM {source} h", params).fetchone()[0]
            facets = self._facets(conn, source, params, request.facets, request.facet_size)
            hits, next_cursor = self._page(conn, source, params, request) if request.size else ([], None)
        finally:
            conn.execute("COMMIT")
        return BackendResult(total=total, hits=hits, facets=facets, next_cursor=next_cursor)

    def _match(
        self, conn: sqlite3.Connection, query: ParsedQuery, request: SearchRequest
    ) -> tuple[str, list[Any]]:
        """A FROM-able source of (rid, score) for every match; text queries are materialised once."""
        root = query.root
        ranked = request.sort == "relevance" and bool(query.positive_terms)
        params: list[Any] = []
        driver = node_fts(root)
        residual: list[Node] = []
        if driver is None and isinstance(root, And):
            # Drive from the FTS index with the text part; keywords/years/lone NOTs filter the rows.
            text = [i for i in root.items if node_fts(i) is not None and not isinstance(i, Not)]
            if text:
                driver = node_fts(And(tuple(text))) if len(text) > 1 else node_fts(text[0])
                residual = [i for i in root.items if i not in text]
        where: list[str] = []
        filter_params: list[Any] = []
        filters = filters_sql(request, filter_params)
        if driver is None and not isinstance(root, MatchAll) and not ranked and not _has_text(root):
            # Pure keyword/year query: no FTS at all, let SQLite use its indexes directly.
            where.append(node_sql(root, params))
            params.extend(filter_params)
            sql = (
                "(SELECT d.rowid AS rid, 0.0 AS score FROM docs d WHERE "
                + " AND ".join(where + filters)
                + ")"
            )
            return sql, params
        if isinstance(root, MatchAll):
            cond = " AND ".join(filters) or "1"
            return f"(SELECT d.rowid AS rid, 0.0 AS score FROM docs d WHERE {cond})", filter_params

        conn.execute("CREATE TEMP TABLE IF NOT EXISTS hits(rid INTEGER PRIMARY KEY, score REAL NOT NULL)")
        conn.execute("DELETE FROM temp.hits")
        select_params: list[Any] = []
        if driver is not None:
            score = f"{_BM25} + {boosts_sql(query.positive_terms, select_params)}" if ranked else "0.0"
            for node in residual:
                where.append(node_sql(node, params))
            sql = (
                f"INSERT INTO temp.hits(rid, score) SELECT fts.rowid, {score} "
                "FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH ?"
                + "".join(f" AND {w}" for w in where + filters)
            )
            conn.execute(sql, [*select_params, driver, *params, *filter_params])
        else:
            where.append(node_sql(root, params))
            join = ""
            join_params: list[Any] = []
            if ranked:
                rank = " OR ".join(f"({_ranked_fts(t)})" for t in query.positive_terms)
                join = (
                    f" LEFT JOIN (SELECT rowid AS rid, {_BM25} AS s FROM fts WHERE fts MATCH ?) r"
                    " ON r.rid = d.rowid"
                )
                join_params.append(rank)
                score = f"COALESCE(r.s, 0) + {boosts_sql(query.positive_terms, select_params)}"
            else:
                score = "0.0"
            sql = (
                f"INSERT INTO temp.hits(rid, score) SELECT d.rowid, {score} FROM docs d{join} WHERE "
                + " AND ".join(where + filters)
            )
            conn.execute(sql, [*select_params, *join_params, *params, *filter_params])
        return "temp.hits", []

    @staticmethod
    def _facets(
        conn: sqlite3.Connection, source: str, params: list[Any], names: Sequence[str], size: int
    ) -> dict[str, list[FacetValue]]:
        unknown = set(names) - {"member", "type", "language", "year", "subject"}
        if unknown:
            raise InvalidInput(f"unknown facet(s) {', '.join(sorted(unknown))}")
        out: dict[str, list[FacetValue]] = {}
        columns = [n for n in ("member", "type", "language", "year") if n in names]
        if columns:
            # One pass over the hits grouped by every facet column at once (few distinct combinations),
            # then summed per facet in Python: cheaper than one GROUP BY scan per facet.
            counts: dict[str, dict[Any, int]] = {c: {} for c in columns}
            sql = (
                f"SELECT {', '.join(f'd.{c}' for c in columns)}, count(*) FROM {source} h "
                f"JOIN docs d ON d.rowid = h.rid GROUP BY {', '.join(f'd.{c}' for c in columns)}"
            )
            for row in conn.execute(sql, params):
                for column, value in zip(columns, row, strict=False):
                    if value is not None:
                        counts[column][value] = counts[column].get(value, 0) + row[-1]
            for column, values in counts.items():
                if column == "year":
                    ordered = sorted(values.items())
                else:
                    ordered = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
                out[column] = [FacetValue(value=str(v), count=c) for v, c in ordered]
        if "subject" in names:
            sql = (
                f"SELECT v.value, count(*) AS c FROM {source} h JOIN doc_values v "
                "ON v.doc = h.rid AND v.kind = 'subject' GROUP BY v.value ORDER BY c DESC, v.value LIMIT ?"
            )
            out["subject"] = [
                FacetValue(value=v, count=c) for v, c in conn.execute(sql, [*params, size]).fetchall()
            ]
        return {name: out[name] for name in names}

    @staticmethod
    def _page(
        conn: sqlite3.Connection, source: str, params: list[Any], request: SearchRequest
    ) -> tuple[list[BackendHit], str | None]:
        keys = _SORT_KEYS[request.sort]
        cols = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
        sql = f"SELECT d.body, h.score, {cols} FROM {source} h JOIN docs d ON d.rowid = h.rid"
        args = list(params)
        offset = 0
        if request.cursor:
            after = decode_cursor(request.cursor)
            if len(after) != len(keys):
                raise InvalidInput("cursor does not belong to this sort order")
            sql += f" WHERE ({', '.join(keys)}) > ({', '.join('?' * len(keys))})"
            args.extend(after)
        else:
            offset = (request.page - 1) * request.size
        sql += f" ORDER BY {', '.join(keys)} LIMIT ? OFFSET ?"
        args.extend((request.size + 1, offset))
        rows = conn.execute(sql, args).fetchall()
        hits = [
            BackendHit(
                doc=IndexDocument.model_validate_json(row[0]),
                score=row[1] if request.sort == "relevance" else None,
                sort_values=list(row[2:]),
            )
            for row in rows[: request.size]
        ]
        next_cursor = encode_cursor(hits[-1].sort_values) if len(rows) > request.size else None
        return hits, next_cursor

    # -- autocomplete and vocabulary ----------------------------------------------------------------
    async def autocomplete(self, field: str, prefix: ParsedQuery, size: int) -> list[str]:
        term = prefix.root
        if not isinstance(term, Term) or not term.folded or size <= 0:
            return []
        if field not in {"title", "author"}:
            raise InvalidInput(f"autocomplete field must be title or author, not {field!r}")
        target = self._alias.target(None)
        return await self._run(self._readers, self._autocomplete, target, field, term, size)

    def _autocomplete(self, index: str, field: str, term: Term, size: int) -> list[str]:
        conn = self._conn(index)
        cap = max(200, size * 20)
        candidates: list[str] = []
        as_phrase = Term(term.field, term.exact, term.folded, phrase=True, prefix=True)
        anchor = "^ " if field == "title" else ""  # a title starts its column; authors follow each other
        for exact in (True, False):  # exact-diacritic candidates first, so a cap keeps them
            col = f"{field}_{'exact' if exact else 'folded'}"
            toks = term.exact if exact else term.folded
            expr = f"{col} : {anchor}{_phrase(toks, as_phrase.prefix)}"
            what = f"json_extract(d.body, '$.{'title' if field == 'title' else 'authors'}')"
            rows = conn.execute(
                f"SELECT {what} FROM fts JOIN docs d ON d.rowid = fts.rowid WHERE fts MATCH ? LIMIT ?",
                (expr, cap),
            ).fetchall()
            for (value,) in rows:
                if value is None:
                    continue
                candidates.extend(json.loads(value) if field == "author" else [value])
        return rank_completions(candidates, term, size)

    async def vocabulary(self, folded_prefix: str, limit: int) -> list[tuple[str, int]]:
        """Terms of ``text_folded`` starting with ``folded_prefix``: document frequency desc, then term."""
        target = self._alias.target(None)

        def read() -> list[tuple[str, int]]:
            sql = "SELECT term, doc FROM vocab WHERE col = 'text_folded'"
            args: list[Any] = []
            if folded_prefix:
                sql += " AND term >= ? AND term < ?"
                args.extend((folded_prefix, folded_prefix + "\U0010ffff"))
            sql += " ORDER BY doc DESC, term LIMIT ?"
            args.append(limit)
            return [(t, int(n)) for t, n in self._conn(target).execute(sql, args)]

        return await self._run(self._readers, read)


def _has_text(node: Node) -> bool:
    if isinstance(node, Term):
        return True
    if isinstance(node, And | Or):
        return any(_has_text(i) for i in node.items)
    if isinstance(node, Not):
        return _has_text(node.item)
    return False

"""``ElasticBackend``: the ``SearchBackend`` protocol on Elasticsearch 8 or OpenSearch 2/3.

Index lifecycle: documents live in versioned indexes ``<alias>-<UTC timestamp>``; the alias is the live
index. ``swap_alias`` moves the alias in one ``_aliases`` call (remove + add, atomic for searchers),
keeps the previous index for rollback and drops versions older than it. The indexer position is kept in
the index mapping's ``_meta``, so it travels with the index it describes.

A search goes: ``search_plan`` (``plan``, from the ``compile``d query) -> ``run_plan`` (``plan.run``, with
its ``tiers`` or ``candidates``, through this connection's raw requests, ``client``) ->
``result_from_answers`` (``results``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from schemas.errors import Conflict, LienhopError, NotFound
from schemas.search import IndexDocument, SearchRequest

from ..backend import BackendResult, BulkReport
from ..query_ast import ParsedQuery
from ..semantics import decode_cursor, rank_completions
from .client import ElasticConnection, body_of, failure_reason
from .compile import COMPLETED, autocomplete_body, near_words_body, prefix_term, vocabulary_body
from .mapping import FACET_TUPLE_FIELD, bulk_lines, from_source, index_body, version_name, versions_of
from .plan import search_plan
from .plan.run import run_plan
from .results import result_from_answers

#: Bulk tuning: documents per request, bytes per request, retries of 429 rejections with backoff.
BULK_CHUNK = 500
BULK_CHUNK_BYTES = 20 * 1024 * 1024
BULK_MAX_RETRIES = 5
BULK_INITIAL_BACKOFF = 0.5
BULK_MAX_BACKOFF = 30.0
BULK_TIMEOUT = 120.0
#: Response fields bulk indexing reads per item: an ``index`` item otherwise also carries its version,
#: sequence number, shard counts... which the helper would decode for nothing.
BULK_FILTER_PATH = "items.*._id,items.*.status,items.*.error"


class ElasticBackend(ElasticConnection):
    """``SearchBackend`` on Elasticsearch 8 or OpenSearch 2/3 (one index per version, of ``shards``
    primary shards with ``replicas`` copies each: one and none unless configured).

    The connection, its error mapping and the raw requests (``raw_search``, ``raw_msearch``,
    ``term_stats``, ``client``, ``close``) come from ``ElasticConnection``.
    """

    name = "elasticsearch"

    def __init__(
        self, url: str, alias: str = "lienhop", engine: str = "auto", shards: int = 1, replicas: int = 0
    ) -> None:
        super().__init__(url, alias, engine)
        self.shards = shards
        self.replicas = replicas
        #: Indexes this process created with ``BUILD_SETTINGS`` and has not restored yet.
        self._building: set[str] = set()
        self._versioned = versions_of(self.alias)
        #: Index name -> whether its mapping has ``FACET_TUPLE_FIELD`` (indexes built before it do not).
        self._tuple_field: dict[str, bool] = {}
        #: The live index has it: searches may aggregate it (checked at ``open`` and ``swap_alias``).
        self._live_tuple = False

    async def _resolve(self, index: str | None) -> str:
        """A concrete index name: ``index``, else the live one."""
        if index is not None:
            return index
        live = await self.live_index()
        if live is None:
            raise NotFound(f"no live search index behind alias {self.alias!r}: call open() first")
        return live

    # --------------------------------------------------------------------------- lifecycle

    async def open(self) -> None:
        """Connect (choosing the client), and create an empty live index when there is none."""
        async with self._guard("connecting") as flavour:
            await flavour.client.info()
        live = await self.live_index()
        if live is None:
            await self.swap_alias(await self.create_index())
        else:
            self._live_tuple = await self._has_tuple_field(live)

    async def live_index(self) -> str | None:
        """The versioned index the alias points at (``None`` when there is no alias)."""
        async with self._guard("reading the alias") as flavour:
            try:
                found = await flavour.client.indices.get_alias(name=self.alias)
            except flavour.not_found:
                return None
        names = sorted(name for name in body_of(found) if self._versioned.match(name))
        return names[-1] if names else None

    async def list_indexes(self) -> list[str]:
        """Every versioned index of this alias, oldest first (names sort by creation time)."""
        async with self._guard("listing indexes") as flavour:
            try:
                found = await flavour.client.indices.get_alias(index=f"{self.alias}-*")
            except flavour.not_found:
                return []
        return sorted(name for name in body_of(found) if self._versioned.match(name))

    async def create_index(self) -> str:
        """Create a new empty versioned index (not live); its position starts at 0.

        It is created for filling (no periodic refresh, no replica: ``BUILD_SETTINGS``); ``refresh(name)`` or
        ``swap_alias(name)`` restore the normal settings.
        """
        async with self._guard("creating an index") as flavour:
            for _ in range(5):
                name = version_name(self.alias, datetime.now(UTC))
                try:
                    body = index_body(building=True, shards=self.shards, replicas=self.replicas)
                    await flavour.client.indices.create(index=name, body=body)
                except flavour.api_errors as exc:
                    if "already_exists" in str(exc):  # same microsecond: take the next one
                        continue
                    raise
                self._building.add(name)
                self._tuple_field[name] = True
                return name
        raise LienhopError(f"could not create a new index for alias {self.alias!r}")

    async def _end_build(self, index: str, check: bool = False) -> bool:
        """Give ``index`` its normal settings back (periodic refresh) if it was created for filling.

        ``check``: also ask the engine, for an index another process (or a crashed run) created.
        Returns whether the settings were restored.
        """
        if index not in self._building:
            if not check:
                return False
            async with self._guard("reading index settings") as flavour:
                try:
                    found = body_of(
                        await flavour.client.indices.get_settings(index=index, name="index.refresh_interval")
                    )
                except flavour.not_found:
                    return False  # swap_alias reports the missing index
            interval = found.get(index, {}).get("settings", {}).get("index", {}).get("refresh_interval")
            if interval != "-1":
                return False
        normal = {"refresh_interval": None, "number_of_replicas": self.replicas}
        async with self._guard("restoring index settings") as flavour:
            # ``None`` resets the setting to the engine's default.
            await flavour.client.indices.put_settings(index=index, body={"index": normal})
        self._building.discard(index)
        return True

    async def swap_alias(self, new_index: str) -> str | None:
        """Point the alias at ``new_index`` in one atomic call; keep the previous index, drop older ones.

        Returns the previous live index. Versions newer than ``new_index`` (a reindex in progress)
        are left alone.
        """
        previous = await self.live_index()
        if previous == new_index:
            return None
        if await self._end_build(new_index, check=True):
            # Filled but never refreshed (the indexer refreshes first): nothing of it would be visible.
            await self.refresh(new_index)
        actions: list[dict[str, Any]] = []
        if previous is not None:
            actions.append({"remove": {"index": previous, "alias": self.alias}})
        actions.append({"add": {"index": new_index, "alias": self.alias}})
        async with self._guard("swapping the alias") as flavour:
            try:
                await flavour.client.indices.update_aliases(body={"actions": actions})
            except flavour.not_found as exc:
                raise NotFound(f"search index {new_index!r} does not exist") from exc
        self._live_tuple = await self._has_tuple_field(new_index)
        keep = {new_index, previous}
        for name in await self.list_indexes():
            if name not in keep and name < new_index:
                await self._delete(name)
        return previous

    async def _delete(self, index: str) -> None:
        async with self._guard(f"deleting index {index}") as flavour:
            with contextlib.suppress(*flavour.not_found):
                await flavour.client.indices.delete(index=index)

    async def drop_index(self, index: str) -> None:
        """Delete a versioned index that is not live (the live one is refused with ``Conflict``)."""
        if not self._versioned.match(index):
            raise NotFound(f"{index!r} is not a versioned index of alias {self.alias!r}")
        if index == await self.live_index():
            raise Conflict(f"index {index!r} is live: swap the alias away from it first")
        await self._delete(index)

    # ------------------------------------------------------------------------------ writes

    async def bulk(
        self, docs: Sequence[IndexDocument], delete_ids: Sequence[str] = (), index: str | None = None
    ) -> BulkReport:
        """Index (insert or replace by id) and delete through the client's streaming bulk helper.

        Rejections (429) are retried with exponential backoff; other per-item failures are collected
        in ``BulkReport.failed`` instead of raising. Deleting an absent id is not a failure.
        """
        target = await self._resolve(index)
        with_tuple = await self._has_tuple_field(target)
        report = BulkReport()
        async with self._guard("bulk indexing") as flavour:
            stream = flavour.streaming_bulk(
                flavour.client,
                bulk_lines(target, docs, delete_ids, report, with_tuple),
                # The actions are prepared lines already: no per-action dict copy and re-encoding.
                expand_action_callback=_prepared,
                chunk_size=BULK_CHUNK,
                max_chunk_bytes=BULK_CHUNK_BYTES,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=BULK_MAX_RETRIES,
                initial_backoff=BULK_INITIAL_BACKOFF,
                max_backoff=BULK_MAX_BACKOFF,
                yield_ok=True,
                request_timeout=BULK_TIMEOUT,
                filter_path=BULK_FILTER_PATH,
            )
            async for ok, item in stream:
                op, info = next(iter(item.items()))
                doc_id = str(info.get("_id", ""))
                if ok:
                    if op == "delete":
                        report.deleted += 1
                    else:
                        report.indexed += 1
                elif op == "delete" and info.get("status") == 404:
                    continue  # already absent: the wanted state
                else:
                    report.failed.append((doc_id, failure_reason(info)))
        return report

    async def refresh(self, index: str | None = None) -> None:
        """Make every write so far visible to searches (and end the build mode of a new index)."""
        if index is not None:
            await self._end_build(index)
        async with self._guard("refreshing") as flavour:
            await flavour.client.indices.refresh(index=index or self.alias)

    async def _mapping(self, index: str) -> dict[str, Any]:
        async with self._guard("reading the index mapping") as flavour:
            try:
                found = body_of(await flavour.client.indices.get_mapping(index=index))
            except flavour.not_found as exc:
                raise NotFound(f"search index {index!r} does not exist") from exc
        return dict(next(iter(found.values()))["mappings"])

    async def _meta(self, index: str) -> dict[str, Any]:
        return dict((await self._mapping(index)).get("_meta") or {})

    async def _has_tuple_field(self, index: str) -> bool:
        """Whether ``index`` maps ``FACET_TUPLE_FIELD`` (asked of the engine once per index)."""
        if index not in self._tuple_field:
            properties = (await self._mapping(index)).get("properties") or {}
            self._tuple_field[index] = FACET_TUPLE_FIELD in properties
        return self._tuple_field[index]

    async def get_position(self, index: str | None = None) -> int:
        """The store change sequence this index has caught up to (``_meta.position``)."""
        meta = await self._meta(await self._resolve(index))
        return int(meta.get("position", 0))

    async def set_position(self, seq: int, index: str | None = None) -> None:
        """Record the caught-up sequence in the mapping ``_meta`` (replacing it, other keys kept)."""
        target = await self._resolve(index)
        meta = await self._meta(target)
        meta["position"] = int(seq)
        async with self._guard("writing the index position") as flavour:
            await flavour.client.indices.put_mapping(index=target, body={"_meta": meta})

    # ------------------------------------------------------------------------------- reads

    async def count(self, index: str | None = None) -> int:
        """Number of documents (of ``index``, else of the live index)."""
        async with self._guard("counting") as flavour:
            try:
                found = await flavour.client.count(index=index or self.alias)
            except flavour.not_found as exc:
                raise NotFound(f"search index {index or self.alias!r} does not exist") from exc
        return int(body_of(found)["count"])

    async def get(self, doc_id: str) -> IndexDocument | None:
        """One document of the live index, ``None`` when absent."""
        async with self._guard("reading a document") as flavour:
            try:
                found = await flavour.client.get(index=self.alias, id=doc_id)
            except flavour.not_found:
                return None
        return from_source(body_of(found)["_source"])

    async def search(self, query: ParsedQuery, request: SearchRequest) -> BackendResult:
        """Run a parsed query with the request's filters, facets, sort and paging (page or cursor).

        The search is planned as separate requests (``search_plan``), sent and certified
        (``run_plan``), and their answers joined into one result (``result_from_answers``).
        """
        after = decode_cursor(request.cursor) if request.cursor else None
        plan = search_plan(query, request, search_after=after, use_tuple=self._live_tuple)
        answered = await run_plan(self, plan, query)
        if answered.tuple_missed:
            # Another process may have pointed the alias at an older index: stop asking the tuple.
            self._live_tuple = False
        return result_from_answers(answered.answers, answered.plan, request)

    async def autocomplete(self, field: str, prefix: ParsedQuery, size: int) -> list[str]:
        """Completions from any word of titles, subjects or author names.

        The engine finds candidates with phrase-prefix queries (exact-diacritic ones first);
        ``search.semantics.rank_completions`` picks the run of words, orders and dedupes them, as in
        every backend. Candidates are over-fetched because one title is often held by many members.
        """
        term = prefix_term(prefix)
        if term is None or size <= 0:
            return []
        candidates = min(max(size * 10, 100), 1000)
        answer = await self.raw_search(autocomplete_body(field, term, candidates))
        values: list[str] = []
        for hit in answer["hits"]["hits"]:
            source = hit.get("_source", {})
            for name in COMPLETED[field][1]:
                value = source.get(name)
                values.extend([value] if isinstance(value, str) else [v for v in value or [] if v])
        return rank_completions(values, term, size, whole=field != "title")

    async def frequencies(self, words: Sequence[str]) -> dict[str, int]:
        """Document frequency in ``text_folded`` of each of ``words`` the index holds.

        Read from the term dictionary (``_termvectors`` of an artificial document of the words, with
        term statistics), as tantivy's ``doc_freq``: a slipped word asks for its ~300 neighbours, and
        counting them with an aggregation walked every document's words (hundreds of milliseconds at a
        million documents). Like tantivy's, the count includes replaced documents until their segment
        is merged: it ranks the alternatives and says whether a word is known, nothing shown.
        """
        asked = sorted(set(words))
        if not asked:
            return {}
        answer = await self.term_stats({"text_folded": " ".join(asked)})
        terms = answer.get("term_vectors", {}).get("text_folded", {}).get("terms", {})
        counts = {str(word): int(info.get("doc_freq", 0)) for word, info in terms.items()}
        return {word: n for word, n in counts.items() if n > 0}

    async def vocabulary(
        self, folded_prefix: str, limit: int, near: tuple[str, int] | None = None
    ) -> list[tuple[str, int]]:
        """Folded words of the live index starting with ``folded_prefix``, with document frequency
        (``near``: the words within an edit budget of a word are enough; ``vocabulary_body``).

        With ``near``, when the word starts with the prefix, read from the term dictionary
        (``near_words_body``) rather than aggregated over the documents holding them (``bench/README.md``
        has both timed), as tantivy's: the counts include replaced documents until their segment is
        merged.
        """
        if limit <= 0:
            return []
        if near is not None:
            word, edits = near
            # the spell checker's automaton keeps at least ``edits - 1`` letters of the word's start
            if 1 <= edits <= 2 and word.startswith(folded_prefix) and len(folded_prefix) >= edits - 1:
                answer = await self.raw_search(near_words_body(word, len(folded_prefix), edits, limit))
                entries = answer.get("suggest", {}).get("near", [])
                found = {str(o["text"]): int(o["freq"]) for e in entries for o in e.get("options", [])}
                return sorted(found.items(), key=lambda wn: (-wn[1], wn[0]))[:limit]
        answer = await self.raw_search(vocabulary_body(folded_prefix, limit, near))
        buckets = answer.get("aggregations", {}).get("words", {}).get("buckets", [])
        return [(str(b["key"]), int(b["doc_count"])) for b in buckets]


def _prepared(action: tuple[str, str | None]) -> tuple[str, str | None]:
    """``expand_action_callback`` for actions that are ``(action line, source line)`` already."""
    return action

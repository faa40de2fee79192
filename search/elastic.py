"""The Elasticsearch 8 / OpenSearch search backend.

One backend speaks to both engines: the official ``elasticsearch`` 8.x async client refuses OpenSearch
(product check), so an OpenSearch node is driven by ``opensearch-py``. Both clients take the same
request bodies (built by ``search.elastic_dsl``), so only construction, exception types and the bulk
helper differ. ``engine="auto"`` reads ``version.distribution`` from ``GET /`` to choose.

Index lifecycle: documents live in versioned indexes ``<alias>-<UTC timestamp>``; the alias is the live
index. ``swap_alias`` moves the alias in one ``_aliases`` call (remove + add, atomic for searchers),
keeps the previous index for rollback and drops versions older than it. The indexer position is kept in
the index mapping's ``_meta``, so it travels with the index it describes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import TypeAdapter

from schemas.errors import BackendUnavailable, Conflict, LienhopError, NotFound
from schemas.search import FacetValue, IndexDocument, SearchRequest

from .backend import BackendHit, BackendResult, BulkReport
from .elastic_dsl import (
    FACET_TUPLE_FIELD,
    TIER_MARGIN,
    SearchPlan,
    among,
    autocomplete_body,
    bm25_bound,
    candidates_body,
    certified,
    check_alias,
    from_source,
    hit_document,
    index_body,
    prefix_term,
    search_plan,
    source_json,
    split_tuple,
    stats_doc,
    tuple_complete,
    vocabulary_body,
)
from .query_ast import ParsedQuery
from .semantics import decode_cursor, encode_cursor, rank_completions

ENGINES = ("auto", "elasticsearch", "opensearch")
#: Bulk tuning: documents per request, bytes per request, retries of 429 rejections with backoff.
BULK_CHUNK = 500
BULK_CHUNK_BYTES = 20 * 1024 * 1024
BULK_MAX_RETRIES = 5
BULK_INITIAL_BACKOFF = 0.5
BULK_MAX_BACKOFF = 30.0
REQUEST_TIMEOUT = 30.0
BULK_TIMEOUT = 120.0
#: HTTP statuses of an engine that is up but cannot serve (treated like an unreachable one).
UNAVAILABLE_STATUSES = {502, 503, 504}
#: Pooled HTTP connections: concurrent searches of one server process must not queue client-side.
CONNECTIONS = 32
#: Longest document id both engines accept.
MAX_ID_BYTES = 512
#: Response fields a search uses (``filter_path``): no shard header, ``_index``/``_id`` of every hit,
#: or per-bucket error bounds to send and decode.
SEARCH_FILTER_PATH = ",".join(
    (
        "hits.total",
        "hits.hits._source",
        "hits.hits._score",
        "hits.hits.sort",
        "aggregations.*.buckets.key",
        "aggregations.*.buckets.doc_count",
    )
)
#: The same fields of each answer of a multi-search, plus its status and error: every answer keeps
#: its ``status``, so none can vanish from the list when ``filter_path`` empties it.
MSEARCH_FILTER_PATH = ",".join(
    [f"responses.{path}" for path in SEARCH_FILTER_PATH.split(",")]
    + ["responses.status", "responses.error.type", "responses.error.reason"]
)
#: A tiered search also reads the index of each hit, to pair it with the term statistics.
TIERED_FILTER_PATH = f"{MSEARCH_FILTER_PATH},responses.hits.hits._index"
#: Response fields bulk indexing reads per item: an ``index`` item otherwise also carries its version,
#: sequence number, shard counts... which the helper would decode for nothing.
BULK_FILTER_PATH = "items.*._id,items.*.status,items.*.error"


@dataclass(frozen=True)
class _Flavour:
    """What differs between the two client libraries."""

    engine: str
    client: Any
    streaming_bulk: Any
    connection_errors: tuple[type[BaseException], ...]
    api_errors: tuple[type[BaseException], ...]
    not_found: tuple[type[BaseException], ...]


def _status_of(exc: BaseException) -> int | None:
    """HTTP status of an API error of either client."""
    meta = getattr(exc, "meta", None)
    status = getattr(meta, "status", None) if meta is not None else None
    if status is None:
        status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _body(response: Any) -> dict[str, Any]:
    """The JSON body of either client's response (the 8.x client wraps it in ``ObjectApiResponse``)."""
    body = getattr(response, "body", response)
    return dict(body)


def _make_flavour(engine: str, url: str) -> _Flavour:
    if engine == "opensearch":
        import opensearchpy
        from opensearchpy.helpers import async_streaming_bulk as os_bulk

        client = opensearchpy.AsyncOpenSearch(
            hosts=[url], timeout=REQUEST_TIMEOUT, max_retries=2, maxsize=CONNECTIONS
        )
        return _Flavour(
            engine="opensearch",
            client=client,
            streaming_bulk=os_bulk,
            connection_errors=(opensearchpy.ConnectionError,),
            api_errors=(opensearchpy.TransportError,),
            not_found=(opensearchpy.NotFoundError,),
        )
    import elasticsearch
    from elasticsearch.helpers import async_streaming_bulk as es_bulk

    client = elasticsearch.AsyncElasticsearch(
        url, request_timeout=REQUEST_TIMEOUT, max_retries=2, connections_per_node=CONNECTIONS
    )
    return _Flavour(
        engine="elasticsearch",
        client=client,
        streaming_bulk=es_bulk,
        connection_errors=(
            elasticsearch.ConnectionError,
            elasticsearch.ConnectionTimeout,
            elasticsearch.UnsupportedProductError,
        ),
        api_errors=(elasticsearch.ApiError, elasticsearch.TransportError),
        not_found=(elasticsearch.NotFoundError,),
    )


async def detect_engine(url: str, timeout: float = 10.0) -> str:
    """``opensearch`` or ``elasticsearch``, from ``version.distribution`` of ``GET /``."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.get(url.rstrip("/") + "/")
    except httpx.HTTPError as exc:
        raise BackendUnavailable(f"search engine at {url} is unreachable: {exc!r}") from exc
    if response.status_code != 200:
        raise BackendUnavailable(f"search engine at {url} answered GET / with HTTP {response.status_code}")
    try:
        version = response.json().get("version", {})
    except ValueError as exc:
        raise BackendUnavailable(f"{url} does not look like Elasticsearch or OpenSearch") from exc
    return "opensearch" if version.get("distribution") == "opensearch" else "elasticsearch"


class ElasticBackend:
    """``SearchBackend`` on Elasticsearch 8 or OpenSearch 2/3 (one single-shard index per version)."""

    name = "elasticsearch"

    def __init__(self, url: str, alias: str = "lienhop", engine: str = "auto") -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        self.url = url.rstrip("/")
        self.alias = check_alias(alias)
        self.engine = engine
        self._flavour: _Flavour | None = None
        #: Indexes this process created with ``BUILD_SETTINGS`` and has not restored yet.
        self._building: set[str] = set()
        self._versioned = re.compile(rf"^{re.escape(self.alias)}-\d{{20}}$")
        #: Index name -> whether its mapping has ``FACET_TUPLE_FIELD`` (indexes built before it do not).
        self._tuple_field: dict[str, bool] = {}
        #: The live index has it: searches may aggregate it (checked at ``open`` and ``swap_alias``).
        self._live_tuple = False

    # ------------------------------------------------------------------------------ plumbing

    async def _connect(self) -> _Flavour:
        if self._flavour is None:
            engine = self.engine if self.engine != "auto" else await detect_engine(self.url)
            self._flavour = _make_flavour(engine, self.url)
        return self._flavour

    @property
    def client(self) -> Any:
        """The underlying async client (after ``open()``): for tools such as the benchmark."""
        if self._flavour is None:
            raise RuntimeError("ElasticBackend.open() has not been awaited")
        return self._flavour.client

    @property
    def resolved_engine(self) -> str | None:
        """``elasticsearch`` or ``opensearch`` once connected."""
        return self._flavour.engine if self._flavour else None

    @contextlib.asynccontextmanager
    async def _guard(self, what: str) -> AsyncIterator[_Flavour]:
        """Translate client errors: unreachable -> BackendUnavailable, refusals -> LienhopError."""
        flavour = await self._connect()
        try:
            yield flavour
        except flavour.connection_errors as exc:
            raise BackendUnavailable(
                f"search engine at {self.url} is unreachable while {what}: {exc}"
            ) from exc
        except flavour.not_found:
            raise
        except flavour.api_errors as exc:
            status = _status_of(exc)
            if status in UNAVAILABLE_STATUSES:
                raise BackendUnavailable(
                    f"search engine at {self.url} cannot serve ({status}) while {what}: {exc}"
                ) from exc
            raise LienhopError(f"search engine refused {what}: {exc}") from exc

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

    async def close(self) -> None:
        """Close the client's connection pool."""
        if self._flavour is not None:
            flavour, self._flavour = self._flavour, None
            await flavour.client.close()

    async def live_index(self) -> str | None:
        """The versioned index the alias points at (``None`` when there is no alias)."""
        async with self._guard("reading the alias") as flavour:
            try:
                found = await flavour.client.indices.get_alias(name=self.alias)
            except flavour.not_found:
                return None
        names = sorted(name for name in _body(found) if self._versioned.match(name))
        return names[-1] if names else None

    async def list_indexes(self) -> list[str]:
        """Every versioned index of this alias, oldest first (names sort by creation time)."""
        async with self._guard("listing indexes") as flavour:
            try:
                found = await flavour.client.indices.get_alias(index=f"{self.alias}-*")
            except flavour.not_found:
                return []
        return sorted(name for name in _body(found) if self._versioned.match(name))

    async def create_index(self) -> str:
        """Create a new empty versioned index (not live); its position starts at 0.

        It is created for filling (no periodic refresh, see ``BUILD_SETTINGS``); ``refresh(name)`` or
        ``swap_alias(name)`` restore the normal settings.
        """
        async with self._guard("creating an index") as flavour:
            for _ in range(5):
                name = f"{self.alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
                try:
                    await flavour.client.indices.create(index=name, body=index_body(building=True))
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
                    found = _body(
                        await flavour.client.indices.get_settings(index=index, name="index.refresh_interval")
                    )
                except flavour.not_found:
                    return False  # swap_alias reports the missing index
            interval = found.get(index, {}).get("settings", {}).get("index", {}).get("refresh_interval")
            if interval != "-1":
                return False
        async with self._guard("restoring index settings") as flavour:
            # ``None`` resets the setting to the engine's default.
            await flavour.client.indices.put_settings(index=index, body={"index": {"refresh_interval": None}})
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

    def _actions(
        self,
        target: str,
        docs: Sequence[IndexDocument],
        delete_ids: Sequence[str],
        report: BulkReport,
        with_tuple: bool = True,
    ) -> Iterator[tuple[str, str | None]]:
        """Bulk lines ``(action, source)``, both already JSON (the helpers pass strings through).

        ``with_tuple``: the target maps ``FACET_TUPLE_FIELD`` (``source_json``).
        """
        index = json.dumps(target)
        # An over-long id fails validation of the whole bulk request, not just its item: report it
        # here so one bad record cannot sink the other documents of its chunk.
        for doc in docs:
            if _bad_id(doc.id, report):
                continue
            yield f'{{"index":{{"_index":{index},"_id":{json.dumps(doc.id)}}}}}', source_json(doc, with_tuple)
        for doc_id in delete_ids:
            if not _bad_id(doc_id, report):
                yield f'{{"delete":{{"_index":{index},"_id":{json.dumps(doc_id)}}}}}', None

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
                self._actions(target, docs, delete_ids, report, with_tuple),
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
                    report.failed.append((doc_id, _failure_reason(info)))
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
                found = _body(await flavour.client.indices.get_mapping(index=index))
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
        return int(_body(found)["count"])

    async def get(self, doc_id: str) -> IndexDocument | None:
        """One document of the live index, ``None`` when absent."""
        async with self._guard("reading a document") as flavour:
            try:
                found = await flavour.client.get(index=self.alias, id=doc_id)
            except flavour.not_found:
                return None
        return from_source(_body(found)["_source"])

    async def raw_search(
        self, body: dict[str, Any], index: str | None = None, filter_path: str | None = None
    ) -> dict[str, Any]:
        """Send a prepared body to the engine and return its answer (no conversion)."""
        params = {"filter_path": filter_path} if filter_path else {}
        async with self._guard("searching") as flavour:
            try:
                return _body(await flavour.client.search(index=index or self.alias, body=body, **params))
            except flavour.not_found as exc:
                raise NotFound(f"search index {index or self.alias!r} does not exist") from exc

    async def raw_msearch(
        self, bodies: Sequence[dict[str, Any]], index: str | None = None, filter_path: str | None = None
    ) -> list[dict[str, Any]]:
        """Send prepared bodies as one ``_msearch`` and return their answers, in order.

        An answer that failed raises as ``raw_search`` would: ``NotFound`` for a missing index,
        ``BackendUnavailable`` for 502/503/504, ``LienhopError`` otherwise.
        """
        target = index or self.alias
        lines: list[dict[str, Any]] = []
        for body in bodies:
            lines += [{}, body]
        params = {"filter_path": filter_path} if filter_path else {}
        async with self._guard("searching") as flavour:
            try:
                found = _body(await flavour.client.msearch(index=target, body=lines, **params))
            except flavour.not_found as exc:
                raise NotFound(f"search index {target!r} does not exist") from exc
        answers: list[dict[str, Any]] = list(found.get("responses") or [])
        if len(answers) != len(bodies):
            raise LienhopError(f"search engine answered {len(answers)} of {len(bodies)} searches")
        for answer in answers:
            if "error" in answer:
                _raise_answer_error(answer, target, self.url)
        return answers

    async def term_stats(self, doc: dict[str, str], index: str | None = None) -> dict[str, Any]:
        """Term and field statistics of the words of an artificial document (``_termvectors``)."""
        async with self._guard("reading term statistics") as flavour:
            try:
                body = term_stats_body(doc)
                return _body(await flavour.client.termvectors(index=index or self.alias, body=body))
            except flavour.not_found as exc:
                raise NotFound(f"search index {index or self.alias!r} does not exist") from exc

    async def _tiered_hits(
        self, plan: SearchPlan, first: dict[str, Any], query: ParsedQuery, stats: dict[str, Any]
    ) -> dict[str, Any]:
        """The answer of the first tier whose page is certified (see ``tiers``), else of the whole query.

        The statistics must come from the index that answered (an alias swap between the requests
        would pair a page with another index's statistics): else the whole query answers.
        """
        assert plan.hits is not None and plan.fallback is not None
        body = plan.bodies[plan.hits]
        bound = bm25_bound(query, stats)
        answer = first
        for n, tier in enumerate(plan.tiers):
            if n:
                answer = (
                    await self.raw_msearch([{**body, "query": tier.query}], filter_path=TIERED_FILTER_PATH)
                )[0]
            found = (answer.get("hits") or {}).get("hits") or []
            if (
                len(found) == body["size"]
                and all(hit.get("_index") == stats.get("_index") for hit in found)
                and found[-1]["_score"] > bound + tier.outside + TIER_MARGIN
            ):
                return answer
        whole = {**body, "query": plan.fallback}
        return (await self.raw_msearch([whole], filter_path=MSEARCH_FILTER_PATH))[0]

    async def _candidate_search(self, plan: SearchPlan) -> list[dict[str, Any]]:
        """The answers of ``plan``, its page found among candidates (``SearchPlan.approximate``).

        The plan's requests go with the candidates request in place of the hits request; then the
        hits request restricted to the candidates gives their exact scores and order. When that page
        cannot be certified (``certified``: near ties beyond the window) the hits request answers.
        """
        assert plan.hits is not None and plan.approximate is not None
        body = plan.bodies[plan.hits]
        ask = candidates_body(body, plan.approximate, plan.by_id)
        bodies = list(plan.bodies)
        bodies[plan.hits] = ask
        answers = await self.raw_msearch(bodies, filter_path=MSEARCH_FILTER_PATH)
        found = _hits_of(answers[plan.hits])
        if found:
            ids = [str(hit["sort"][-1]) for hit in found]
            exact = (await self.raw_msearch([among(body, ids)], filter_path=MSEARCH_FILTER_PATH))[0]
            if certified(found, ask["size"], _hits_of(exact), body["size"], plan.by_id):
                answers[plan.hits] = exact
                return answers
        elif not plan.by_id:
            return answers  # no match after the cursor: the page is empty
        answers[plan.hits] = (await self.raw_msearch([body], filter_path=MSEARCH_FILTER_PATH))[0]
        return answers

    async def search(self, query: ParsedQuery, request: SearchRequest) -> BackendResult:
        """Run a parsed query with the request's filters, facets, sort and paging (page or cursor).

        The hits, the total and the facets are separate requests of one ``_msearch`` (``SearchPlan``).
        For several unquoted words the hits are first asked of the top boost tiers (``tiers``), with
        the statistics that bound BM25 fetched alongside; a tier's page that cannot be certified is
        asked again of the next tier, and lastly of the whole query.
        """
        after = decode_cursor(request.cursor) if request.cursor else None
        plan = search_plan(query, request, search_after=after, use_tuple=self._live_tuple)
        if plan.approximate is not None:
            return await self._result(await self._candidate_search(plan), plan, request)
        if not plan.tiers or plan.hits is None:
            answers = await self.raw_msearch(plan.bodies, filter_path=MSEARCH_FILTER_PATH)
            return await self._result(answers, plan, request)
        answers, stats = await asyncio.gather(
            self.raw_msearch(plan.bodies, filter_path=TIERED_FILTER_PATH),
            self.term_stats(stats_doc(query)),
        )
        answers[plan.hits] = await self._tiered_hits(plan, answers[plan.hits], query, stats)
        return await self._result(answers, plan, request)

    async def _result(
        self, answers: list[dict[str, Any]], plan: SearchPlan, request: SearchRequest
    ) -> BackendResult:
        """``result_from_answers``, after asking the separate facet aggregations when the tuple one
        did not count every match (the alias moved to an index without the field, or too many
        combinations): the facets are then exactly those of ``search_body`` too."""
        if plan.tuple_fallback is not None and not tuple_complete(answers[plan.total]):
            # Another process may have pointed the alias at an older index: stop asking the tuple.
            self._live_tuple = False
            fallback = await self.raw_msearch([plan.tuple_fallback], filter_path=MSEARCH_FILTER_PATH)
            answers = [*answers, fallback[0]]
            plan = plan.untupled(len(answers) - 1)
        return result_from_answers(answers, plan, request)

    async def autocomplete(self, field: str, prefix: ParsedQuery, size: int) -> list[str]:
        """Titles or author names whose folded words start with the typed ones.

        The engine finds candidates with anchored prefix queries (exact-diacritic ones and shorter
        titles first); ``search.semantics.rank_completions`` orders and dedupes them, as in every
        backend. Candidates are over-fetched because one title is often held by many members.
        """
        term = prefix_term(prefix)
        if term is None or size <= 0:
            return []
        candidates = min(max(size * 10, 100), 1000)
        answer = await self.raw_search(autocomplete_body(field, term, candidates))
        values: list[str] = []
        for hit in answer["hits"]["hits"]:
            source = hit.get("_source", {})
            if field == "title":
                values.extend([source["title"]] if source.get("title") else [])
            else:
                values.extend(name for name in source.get("authors") or [] if name)
        return rank_completions(values, term, size)

    async def vocabulary(self, folded_prefix: str, limit: int) -> list[tuple[str, int]]:
        """Folded words of the live index starting with ``folded_prefix``, with document frequency."""
        if limit <= 0:
            return []
        answer = await self.raw_search(vocabulary_body(folded_prefix, limit))
        buckets = answer.get("aggregations", {}).get("words", {}).get("buckets", [])
        return [(str(b["key"]), int(b["doc_count"])) for b in buckets]


def _hits_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The hits of one answer (``filter_path`` drops an empty list)."""
    return list((answer.get("hits") or {}).get("hits") or [])


def term_stats_body(doc: dict[str, str]) -> dict[str, Any]:
    """The ``_termvectors`` body asking the index statistics of an artificial document's words."""
    return {
        "doc": doc,
        "term_statistics": True,
        "field_statistics": True,
        "positions": False,
        "offsets": False,
        "payloads": False,
    }


def _prepared(action: tuple[str, str | None]) -> tuple[str, str | None]:
    """``expand_action_callback`` for actions that are ``(action line, source line)`` already."""
    return action


def _bad_id(doc_id: str, report: BulkReport) -> bool:
    size = len(doc_id.encode("utf-8"))
    if 0 < size <= MAX_ID_BYTES:
        return False
    report.failed.append((doc_id, f"document id must be 1 to {MAX_ID_BYTES} bytes, not {size}"))
    return True


def _raise_answer_error(answer: dict[str, Any], index: str, url: str) -> None:
    """Raise the error of one failed answer of a multi-search (see ``ElasticBackend.raw_msearch``)."""
    status = answer.get("status")
    reason = _failure_reason(answer)
    if status == 404:
        raise NotFound(f"search index {index!r} does not exist ({reason})")
    if status in UNAVAILABLE_STATUSES:
        raise BackendUnavailable(f"search engine at {url} cannot serve ({status}) while searching: {reason}")
    raise LienhopError(f"search engine refused searching: {reason}")


def _failure_reason(info: dict[str, Any]) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason += f" ({cause.get('reason')})"
        return reason
    if error:
        return str(error)
    return f"status {info.get('status', '?')}"


_FACET_VALUES = TypeAdapter(list[FacetValue])


def result_from_answers(
    answers: Sequence[dict[str, Any]], plan: SearchPlan, request: SearchRequest
) -> BackendResult:
    """Join the answers of a ``SearchPlan`` into the ``BackendResult`` of one ``search_body`` answer."""
    hits: dict[str, Any] = {}
    if plan.hits is not None:
        hits["hits"] = (answers[plan.hits].get("hits") or {}).get("hits") or []
        if plan.unscored:
            # Sorted by id alone: put back the score every hit has in relevance order (0, nothing is
            # scored) in front of the sort values, so cursors keep their ``[score, id]`` form.
            hits["hits"] = [{**h, "_score": 0.0, "sort": [0.0, *h.get("sort", [])]} for h in hits["hits"]]
    hits["total"] = (answers[plan.total].get("hits") or {}).get("total", 0)
    aggs = {name: (answers[i].get("aggregations") or {}).get(name) or {} for name, i in plan.facets.items()}
    if plan.tuple_facets:
        tupled = (answers[plan.total].get("aggregations") or {}).get(FACET_TUPLE_FIELD) or {}
        aggs.update(split_tuple(tupled.get("buckets") or [], plan.tuple_facets, request.facet_size))
    return result_from_answer({"hits": hits, "aggregations": aggs}, request)


def result_from_answer(answer: dict[str, Any], request: SearchRequest) -> BackendResult:
    """Convert an engine answer to a ``BackendResult`` (drops the look-ahead hit, makes the cursor).

    The answer may be trimmed by ``SEARCH_FILTER_PATH``, which drops empty parts (no hits, no buckets).
    """
    hits_part = answer.get("hits") or {}
    raw_hits = hits_part.get("hits") or []
    more = bool(request.size) and len(raw_hits) > request.size
    hits = [
        BackendHit(doc=hit_document(h["_source"]), score=h.get("_score"), sort_values=h.get("sort") or [])
        for h in raw_hits[: request.size]
    ]
    facets: dict[str, list[FacetValue]] = {}
    aggs = answer.get("aggregations") or {}
    for name in request.facets:  # in the order asked for; filter_path drops a facet without buckets
        buckets = (aggs.get(name) or {}).get("buckets") or []
        # Validated as one list in pydantic-core: half the cost of a model per bucket (the year
        # facet has a bucket per year).
        if name == "year":  # keyword keys: "999" sorts after "2015" as a string
            years = sorted((int(b["key"]), b["doc_count"]) for b in buckets)
            values = [{"value": str(year), "count": count} for year, count in years]
        else:
            values = [{"value": str(b["key"]), "count": b["doc_count"]} for b in buckets]
        facets[name] = _FACET_VALUES.validate_python(values)
    total = hits_part.get("total", 0)
    next_cursor = encode_cursor(hits[-1].sort_values) if more and hits else None
    return BackendResult(
        total=int(total["value"] if isinstance(total, dict) else total),
        hits=hits,
        facets=facets,
        next_cursor=next_cursor,
    )

"""The connection to the engine: which client library speaks to it, and what its errors mean to us.

One backend speaks to both engines: the official ``elasticsearch`` 8.x async client refuses OpenSearch
(product check), so an OpenSearch node is driven by ``opensearch-py``. Both clients take the same
request bodies, so only construction, exception types and the bulk helper differ (``_Flavour``).
``engine="auto"`` reads ``version.distribution`` from ``GET /`` to choose (``detect_engine``).

Errors map to ``schemas.errors``: an unreachable engine, or one answering 502/503/504, is
``BackendUnavailable``; a missing index ``NotFound``; any other refusal ``LienhopError``.
The client libraries are imported on first connection: the embedded backends work without them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from schemas.errors import BackendUnavailable, LienhopError, NotFound

from .mapping import check_alias

ENGINES = ("auto", "elasticsearch", "opensearch")
REQUEST_TIMEOUT = 30.0
#: HTTP statuses of an engine that is up but cannot serve (treated like an unreachable one).
UNAVAILABLE_STATUSES = {502, 503, 504}
#: Pooled HTTP connections: concurrent searches of one server process must not queue client-side.
CONNECTIONS = 32
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


@dataclass(frozen=True)
class _Flavour:
    """What differs between the two client libraries."""

    engine: str
    client: Any
    streaming_bulk: Any
    connection_errors: tuple[type[BaseException], ...]
    api_errors: tuple[type[BaseException], ...]
    not_found: tuple[type[BaseException], ...]


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


def _make_flavour(engine: str, url: str) -> _Flavour:
    client: Any
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


class ElasticConnection:
    """A lazily opened client of the engine at ``url``, and the raw requests a search sends.

    ``ElasticBackend`` builds on it; requests without an index go to ``alias``.
    """

    def __init__(self, url: str, alias: str, engine: str) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        self.url = url.rstrip("/")
        self.alias = check_alias(alias)
        self.engine = engine
        self._flavour: _Flavour | None = None

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

    async def close(self) -> None:
        """Close the client's connection pool."""
        if self._flavour is not None:
            flavour, self._flavour = self._flavour, None
            await flavour.client.close()

    @contextlib.asynccontextmanager
    async def _guard(self, what: str) -> AsyncIterator[_Flavour]:
        """Translate client errors: unreachable -> BackendUnavailable, refusals -> LienhopError.

        The client's not-found error passes through: each caller knows what is missing.
        """
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

    async def raw_search(
        self, body: dict[str, Any], index: str | None = None, filter_path: str | None = None
    ) -> dict[str, Any]:
        """Send a prepared body to the engine and return its answer (no conversion)."""
        params = {"filter_path": filter_path} if filter_path else {}
        async with self._guard("searching") as flavour:
            try:
                return body_of(await flavour.client.search(index=index or self.alias, body=body, **params))
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
                found = body_of(await flavour.client.msearch(index=target, body=lines, **params))
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
                return body_of(await flavour.client.termvectors(index=index or self.alias, body=body))
            except flavour.not_found as exc:
                raise NotFound(f"search index {index or self.alias!r} does not exist") from exc


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


def body_of(response: Any) -> dict[str, Any]:
    """The JSON body of either client's response (the 8.x client wraps it in ``ObjectApiResponse``)."""
    body = getattr(response, "body", response)
    return dict(body)


def _status_of(exc: BaseException) -> int | None:
    """HTTP status of an API error of either client."""
    meta = getattr(exc, "meta", None)
    status = getattr(meta, "status", None) if meta is not None else None
    if status is None:
        status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _raise_answer_error(answer: dict[str, Any], index: str, url: str) -> None:
    """Raise the error of one failed answer of a multi-search (see ``ElasticConnection.raw_msearch``)."""
    status = answer.get("status")
    reason = failure_reason(answer)
    if status == 404:
        raise NotFound(f"search index {index!r} does not exist ({reason})")
    if status in UNAVAILABLE_STATUSES:
        raise BackendUnavailable(f"search engine at {url} cannot serve ({status}) while searching: {reason}")
    raise LienhopError(f"search engine refused searching: {reason}")


def failure_reason(info: dict[str, Any]) -> str:
    """The reason of a failed answer or bulk item, with its cause when the engine gives one."""
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

"""What an index is on the engine: its settings and mappings, its name, and the stored form of a document.

Documents live in versioned indexes ``<alias>-<UTC timestamp>`` behind one alias (the live index). A
document is stored as its ``IndexDocument`` fields plus fields only the engine uses (``DERIVED_FIELDS``:
the vocabulary words, autocomplete anchors, the facet tuple), which are kept out of ``_source``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from schemas.errors import InvalidInput
from schemas.search import IndexDocument

from .. import analysis
from ..backend import BulkReport

ANALYZER = "lienhop_tokens"
#: One single-valued keyword per document, the JSON list ``[type, language]``: one terms aggregation
#: on it, split and summed client-side (``search.elastic.results.split_tuple``), gives these two
#: facets. It reads one ordinal per matching document where two aggregations read two. ``member`` is
#: not in it: a work is held by several members, and a tuple holds one value per facet.
FACET_TUPLE_FIELD = "facet_tuple"
#: The facets of the tuple, in the order of its values (single-valued fields only).
TUPLE_FACETS = ("type", "language")
#: Fields added to the stored document for the engine only (kept out of ``_source``).
DERIVED_FIELDS = (
    "text_words", "title_len", "author_starts_exact", "author_starts_folded", FACET_TUPLE_FIELD,
)  # fmt: skip
#: Keyword twins used by autocomplete's anchored prefix queries (longer strings are not completed).
STARTS_MAX = 1024
#: The stored fields a search hit is built from: what ``Hit`` shows plus ``abstract`` for its highlight.
#: The analysed ``*_exact``/``*_folded`` twins, ``title_sort``, ``subjects`` and ``publisher`` are never
#: fetched for a result page (about two thirds of a hit's bytes): matching is done, only display is left.
HIT_SOURCE_FIELDS = (
    "id", "member", "records", "title", "subtitle", "authors", "year", "type", "language",
    "isbn", "issn", "doi", "abstract",
)  # fmt: skip
#: While a new version is being filled nobody searches it: no periodic refresh (``refresh_interval``
#: -1) saves the engine a segment flush every second, and no replica (the configured count comes back
#: with the normal settings, and the cluster then copies the finished segments once instead of
#: indexing every document twice). The backend restores both before it refreshes the index or makes it
#: live.
BUILD_SETTINGS: dict[str, Any] = {"refresh_interval": "-1", "number_of_replicas": 0}
#: Longest document id both engines accept.
MAX_ID_BYTES = 512


# ------------------------------------------------------------------------------------------ names

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")


def check_alias(alias: str) -> str:
    """An alias usable as an index name prefix (lower-case, no separators the engines refuse)."""
    if not _NAME_RE.match(alias):
        raise InvalidInput(f"invalid search index alias {alias!r}: use lower-case letters, digits, - _ . +")
    return alias


def version_name(alias: str, now: datetime) -> str:
    """The name of a new version of ``alias``: names sort by creation time."""
    return f"{alias}-{now:%Y%m%d%H%M%S%f}"


def versions_of(alias: str) -> re.Pattern[str]:
    """Matches the names ``version_name`` gives for ``alias`` (and no other index of the cluster)."""
    return re.compile(rf"^{re.escape(alias)}-\d{{20}}$")


# ------------------------------------------------------------------------------------- index body


def index_body(
    position: int = 0, building: bool = False, shards: int = 1, replicas: int = 0
) -> dict[str, Any]:
    """Settings and mappings of one versioned index (``_meta.position`` is the indexer position).

    ``building``: the index is being filled before it goes live (``BUILD_SETTINGS`` override the
    normal ones). ``shards`` and ``replicas``: ``LIENHOP_SEARCH_SHARDS`` and ``LIENHOP_SEARCH_REPLICAS``
    (docs/scaling.md sizes them); the shard count of an index is fixed when it is created, so a new
    count takes effect at the next ``lienhop reindex``.
    """
    folded_text = {"type": "text", "analyzer": ANALYZER}
    # The exact twins only decide constant boosts (never BM25): no length norms to store and load.
    exact_text = {**folded_text, "norms": False}
    stored_only = {"type": "text", "index": False}
    keyword = {"type": "keyword"}
    # Facet fields: global ordinals are built when a refresh publishes new segments, not by the first
    # search after it.
    facet = {"type": "keyword", "eager_global_ordinals": True}
    properties: dict[str, Any] = {
        "id": keyword,
        "seq": {"type": "long"},
        "member": facet,  # the codes of the members holding the work: an array
        # The work's record refs, kept for the hits' holdings and never searched.
        "records": {"type": "object", "enabled": False},
        "title": stored_only,
        "subtitle": stored_only,
        "authors": stored_only,
        "subjects": facet,
        "abstract": stored_only,
        "publisher": stored_only,
        "year": {"type": "integer", "fields": {"key": facet}},
        "language": facet,
        "type": facet,
        "isbn": keyword,
        "issn": keyword,
        "doi": keyword,
        "title_sort": keyword,
        # One keyword per distinct folded word: the vocabulary (spelling suggestions) is a terms
        # aggregation on it, which needs no fielddata and works the same on Elasticsearch and OpenSearch.
        "text_words": keyword,
        "title_len": {"type": "integer"},
        # Only aggregated, never searched: doc values without an inverted index.
        FACET_TUPLE_FIELD: {**facet, "index": False},
    }
    for stem in ("title", "author", "subject", "text"):
        properties[f"{stem}_exact"] = exact_text
        properties[f"{stem}_folded"] = folded_text
    # Autocomplete anchors prefixes at the start of a title or author name: keyword twins.
    starts = {"type": "keyword", "ignore_above": STARTS_MAX}
    for variant in ("exact", "folded"):
        properties[f"title_{variant}"] = {**properties[f"title_{variant}"], "fields": {"starts": starts}}
        properties[f"author_starts_{variant}"] = starts
    settings: dict[str, Any] = {
        "number_of_shards": shards,
        "number_of_replicas": replicas,
        **(BUILD_SETTINGS if building else {}),
    }
    return {
        "settings": {
            **settings,
            "analysis": {
                # Tokens arrive analysed (lower-cased, folded) by search.analysis; the engine only splits
                # them on spaces again, so its token streams equal the embedded backend's. No filter at
                # all: even ``lowercase`` could disagree with Python's lower() on rare code points.
                "analyzer": {ANALYZER: {"type": "custom", "tokenizer": "whitespace", "filter": []}}
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {"position": position},
            "_source": {"excludes": list(DERIVED_FIELDS)},
            "properties": properties,
        },
    }


# ------------------------------------------------------------------------- document <-> _source

#: ``analysis.fold`` memoised: author names repeat across records (and a name's words more so).
_fold = functools.lru_cache(maxsize=1 << 16)(analysis.fold)


def facet_tuple(doc: IndexDocument) -> str:
    """The ``FACET_TUPLE_FIELD`` value of a document (JSON keeps any value, and a missing one, apart)."""
    return json.dumps([doc.type, doc.language], ensure_ascii=False, separators=(",", ":"))


def _derived(doc: IndexDocument, with_tuple: bool = True) -> dict[str, Any]:
    """The engine-only fields of a document (``DERIVED_FIELDS``).

    ``with_tuple``: the target index maps ``FACET_TUPLE_FIELD`` (an index built before it does not, and
    its strict mapping would refuse the document).
    """
    exact: list[str] = []
    folded: list[str] = []
    for name in doc.authors:
        # exact_text / folded_text of the name, tokenised once for both.
        toks = analysis.tokens(name)
        exact.append(" ".join(toks))
        folded.append(" ".join([_fold(t) for t in toks]))
    derived: dict[str, Any] = {
        "text_words": sorted(set(doc.text_folded.split())),
        "title_len": len(doc.title or ""),
        "author_starts_exact": exact,
        "author_starts_folded": folded,
    }
    if with_tuple:
        derived[FACET_TUPLE_FIELD] = facet_tuple(doc)
    return derived


def to_source(doc: IndexDocument) -> dict[str, Any]:
    """The stored form of a document: its fields (``None`` ones left out) plus the engine-only ones."""
    source = doc.model_dump(mode="json", exclude_none=True)
    source.update(_derived(doc))
    return source


def source_json(doc: IndexDocument, with_tuple: bool = True) -> str:
    """``to_source(doc)`` serialised to JSON, the way bulk indexing sends it.

    Serialised once, by pydantic's Rust serialiser, with the derived fields spliced in: the bulk helpers
    pass strings through untouched, so the slower stdlib encoder never sees a document, and non-ASCII
    text travels as UTF-8 rather than six-byte ``\\u`` escapes. ``with_tuple``: as in ``_derived``.
    """
    fields = doc.model_dump_json(exclude_none=True)
    derived = json.dumps(_derived(doc, with_tuple), ensure_ascii=False, separators=(",", ":"))
    return f"{fields[:-1]},{derived[1:]}"  # both are objects, and ``fields`` is never empty (id)


def bulk_lines(
    target: str,
    docs: Sequence[IndexDocument],
    delete_ids: Sequence[str],
    report: BulkReport,
    with_tuple: bool = True,
) -> Iterator[tuple[str, str | None]]:
    """Bulk lines ``(action, source)``, both already JSON (the helpers pass strings through).

    An id the engines refuse goes to ``report.failed`` instead. ``with_tuple``: the target maps
    ``FACET_TUPLE_FIELD`` (``source_json``).
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


def _bad_id(doc_id: str, report: BulkReport) -> bool:
    size = len(doc_id.encode("utf-8"))
    if 0 < size <= MAX_ID_BYTES:
        return False
    report.failed.append((doc_id, f"document id must be 1 to {MAX_ID_BYTES} bytes, not {size}"))
    return True


def from_source(source: dict[str, Any]) -> IndexDocument:
    """An ``IndexDocument`` from a hit's ``_source`` (derived fields ignored), validated."""
    return IndexDocument.model_validate({k: v for k, v in source.items() if k not in DERIVED_FIELDS})


def hit_document(source: dict[str, Any]) -> IndexDocument:
    """An ``IndexDocument`` of a search hit's ``_source`` (``HIT_SOURCE_FIELDS``; the rest defaults).

    Validated as is, without copying: pydantic-core's validation of a small dict is cheaper than
    ``model_construct`` (which, when a list field is missing, inspects the default factory's signature
    on every call).
    """
    return IndexDocument.model_validate(source)

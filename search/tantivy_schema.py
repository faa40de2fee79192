"""The tantivy index's schema and documents: fields, the analyser, id keys, and an IndexDocument
to and from a tantivy document."""

from __future__ import annotations

import struct
from typing import Any, cast

import tantivy

from schemas.search import ANALYSED, IndexDocument

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


def _analyzer() -> tantivy.TextAnalyzer:
    # Text arrives analysed by search.analysis; split on spaces again, no filter (as the other backends).
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()


_validate_document = IndexDocument.__pydantic_validator__.validate_json  # model_validate_json minus a call


def _load(searcher: tantivy.Searcher, addr: tantivy.DocAddress) -> IndexDocument:
    body = searcher.doc(addr).get_first("body")  # stored on every document (``to_tantivy``)
    doc: IndexDocument = _validate_document(cast(str, body))
    return doc

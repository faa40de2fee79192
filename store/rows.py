"""A record as the store writes it, computed from a :class:`~schemas.record.Record` with no database.

Pure and free of SQLAlchemy, so a harvest's parsing worker can compute it beside the record (see
``harvesters.runner.PageDecoder``): the hash, the JSON and the identifier rows of a page are then made
on another core, and the process that writes to the store receives plain strings, which cost a
fraction of what rebuilding the pydantic models did.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import NamedTuple

from schemas.record import Record, record_id

from .clusters import WorkKeys, record_keys

_RECORD_JSON = Record.__pydantic_serializer__
_NOT_HASHED = {"datestamp": True}
_NOT_STORED_IN_DATA = {"raw": True}
# identifier kinds with a lookup row (URLs and local ids are not looked up)
_LOOKUP_KINDS = ("isbn", "issn", "doi", "handle")
IDENTIFIER_MAX = 300  # record_identifiers.value


class RecordRow(NamedTuple):
    """What the store keeps of one record: its row in ``records`` and its lookup identifiers."""

    oai_identifier: str
    id: str
    local_id: str | None
    datestamp: datetime | None
    deleted: bool
    digest: str
    data: str  # the record as JSON, without ``raw``
    raw_format: str
    raw: str
    identifiers: tuple[tuple[str, str], ...]  # (kind, value) rows of record_identifiers
    keys: WorkKeys | None  # its work_keys row (store.clusters.record_keys); None: a tombstone, or none


def content_hash(record: Record) -> str:
    """Hash of what a record says (not when it was seen), to skip unchanged re-harvests.

    The record's JSON as pydantic writes it (fields in declaration order, UTF-8 bytes straight from
    the Rust serialiser) without ``datestamp``: a third of the cost of the sorted, ASCII-escaped
    ``json.dumps`` this replaced, which was as much work as parsing the record. 40 hex digits, so a
    hash stored before the change (32 digits, see ``store.records._legacy_hash``) is told apart.
    """
    return hashlib.blake2b(_RECORD_JSON.to_json(record, exclude=_NOT_HASHED), digest_size=20).hexdigest()


def record_row(record: Record) -> RecordRow:
    """The row the store writes for ``record`` (a tombstone has no lookup identifiers)."""
    identifiers: list[tuple[str, str]] = []
    ids = record.identifiers
    if not record.deleted:
        for kind in _LOOKUP_KINDS:
            values = getattr(ids, kind)
            if values:  # most records have one or two kinds of identifier, or none
                identifiers.extend((kind, v[:IDENTIFIER_MAX]) for v in dict.fromkeys(values))
    return RecordRow(
        oai_identifier=record.oai_identifier,
        id=record_id(record.member, record.oai_identifier),
        local_id=ids.local_id,
        datestamp=record.datestamp,
        deleted=record.deleted,
        digest=content_hash(record),
        data=_RECORD_JSON.to_json(record, exclude=_NOT_STORED_IN_DATA).decode(),
        raw_format=record.raw_format,
        raw=record.raw,
        identifiers=tuple(dict.fromkeys(identifiers)),
        keys=None if record.deleted else record_keys(record),
    )

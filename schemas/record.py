"""The one normalised bibliographic record every harvester and importer produces."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

RawFormat = Literal["oai_dc", "marcxml", "marc21"]

RECORD_TYPES = ("book", "thesis", "article", "report", "conference", "journal", "dataset", "other")


class Identifiers(BaseModel):
    """Normalised identifiers: ISBN-13 without hyphens, ISSN as NNNN-NNNX, DOI lower-case ``10.x/y``."""

    isbn: list[str] = Field(default_factory=list)
    issn: list[str] = Field(default_factory=list)
    doi: list[str] = Field(default_factory=list)
    handle: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    local_id: str | None = None


class Record(BaseModel):
    """A member's record after normalisation (NFC text, validated identifiers)."""

    member: str
    oai_identifier: str
    datestamp: datetime | None = None
    deleted: bool = False
    title: str | None = None
    subtitle: str | None = None
    authors: list[str] = Field(default_factory=list)
    subjects: list[str] = Field(default_factory=list)
    abstract: str | None = None
    publisher: str | None = None
    year: int | None = None
    language: str | None = Field(None, description="ISO 639-3 code, e.g. vie, eng")
    type: str = "other"
    identifiers: Identifiers = Field(default_factory=Identifiers)
    raw_format: RawFormat = "oai_dc"
    raw: str = Field("", description="The member's metadata as received, kept for re-derivation.")

    @property
    def id(self) -> str:
        """Stable public id of the record, the same in store, index and URLs."""
        return record_id(self.member, self.oai_identifier)


def record_id(member: str, oai_identifier: str) -> str:
    """A short, URL-safe, stable id for (member, OAI identifier)."""
    digest = hashlib.blake2b(f"{member}\x1f{oai_identifier}".encode(), digest_size=8).hexdigest()
    return f"{member.lower()}-{digest}"


class QuarantinedItem(BaseModel):
    """A record or page that could not be read, kept with its reason so nothing is lost."""

    member: str
    reason: str
    oai_identifier: str | None = None
    offset: int | None = Field(None, description="Byte offset in an imported file")
    raw: str = ""

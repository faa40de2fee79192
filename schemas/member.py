"""Consortium members and the reports of their harvest and import runs."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

MetadataPrefix = Literal["oai_dc", "marcxml"]
MemberStatus = Literal["member", "observer"]

#: The consortium's rule: an observer may become a full member after two years of observation.
OBSERVATION_YEARS = 2

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")


class MemberBase(BaseModel):
    name_vi: str = Field(..., min_length=1)
    name_en: str | None = None
    status: MemberStatus = "member"
    observer_since: date | None = None
    joined: date | None = None
    oai_url: str | None = None
    metadata_prefix: MetadataPrefix = "oai_dc"
    sets: list[str] = Field(default_factory=list)
    opac_url_template: str | None = Field(
        None, description="Deep link to the member's OPAC; {local_id}, {oai_identifier}, {isbn} are filled"
    )
    contact: str | None = None
    active: bool = True
    harvest_schedule: str | None = Field("daily", description="daily | weekly | hourly | manual")

    @field_validator("oai_url", "opac_url_template")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @field_validator("harvest_schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value not in {None, "daily", "weekly", "hourly", "manual"}:
            raise ValueError("harvest_schedule must be daily, weekly, hourly or manual")
        return value


class MemberCreate(MemberBase):
    code: str

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        value = value.strip().upper()
        if not _CODE.match(value):
            raise ValueError("code must be 2-32 letters, digits, '-' or '_'")
        return value


class Member(MemberCreate):
    created: datetime | None = None

    def eligible_for_membership(self) -> date | None:
        """When an observer may become a full member (None for members or unknown start)."""
        if self.status != "observer" or self.observer_since is None:
            return None
        start = self.observer_since
        try:
            return start.replace(year=start.year + OBSERVATION_YEARS)
        except ValueError:  # 29 February
            return start.replace(year=start.year + OBSERVATION_YEARS, day=28)


class RecordCounts(BaseModel):
    active: int = 0
    deleted: int = 0
    quarantined: int = 0


RunKind = Literal["harvest", "import"]


class RunReport(BaseModel):
    """One harvest or import run, as recorded in the store."""

    id: int | None = None
    member: str
    kind: RunKind = "harvest"
    started: datetime
    finished: datetime | None = None
    ok: bool | None = None
    pages: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    quarantined: int = 0
    error: str | None = None
    params: dict[str, str] = Field(default_factory=dict)


class MemberStatusReport(BaseModel):
    """What `members show --json` and ``GET /members/{code}`` print."""

    code: str
    member: Member
    status: MemberStatus
    eligible_for_membership: date | None = None
    records: RecordCounts
    last_harvest: RunReport | None = None

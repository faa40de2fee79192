"""API keys, the principal a request acts as, and the audit log of admin actions.

A key has one scope: ``admin`` (everything), ``curator`` of one member (harvest, import and that
member's reports) or ``client`` of one member (public reads, counted and rate-limited as the
member's). The key itself is shown once, when it is made; the store keeps only its hash.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

Scope = Literal["admin", "curator", "client"]

#: Prefix of every key Lienhop makes: a leaked key is recognisable in a log or a repository.
KEY_PREFIX = "lhk_"


class KeyCreate(BaseModel):
    """What ``lienhop keys create`` asks for."""

    scope: Scope
    member: str | None = Field(None, description="The member of a curator or client key")
    label: str = Field(min_length=1, max_length=200)
    expires: date | None = None

    @model_validator(mode="after")
    def _member_matches_scope(self) -> KeyCreate:
        if self.scope == "admin" and self.member:
            raise ValueError("an admin key belongs to no member: leave out --member")
        if self.scope != "admin" and not self.member:
            raise ValueError(f"a {self.scope} key needs --member CODE")
        if self.member:
            self.member = self.member.strip().upper()
        return self


class ApiKey(BaseModel):
    """A key as listed: never the key itself."""

    id: int
    label: str
    scope: Scope
    member: str | None = None
    created: datetime
    expires: date | None = None
    revoked: datetime | None = None
    last_used: datetime | None = None


class Principal(BaseModel):
    """Who a request acts as: a key, the bootstrap token, or the loopback operator."""

    who: str = Field(description='"key 3 (label)", "bootstrap" or "loopback"')
    scope: Scope
    member: str | None = None
    key_id: int | None = None

    def may_act_for(self, member: str) -> bool:
        """Whether member-scoped admin work (harvest, import, reports) on ``member`` is allowed."""
        return self.scope == "admin" or (self.scope == "curator" and self.member == member.upper())


Outcome = Literal["ok", "refused", "failed"]


class AuditEntry(BaseModel):
    """One admin action: who, what, when, outcome."""

    id: int
    at: datetime
    who: str
    action: str = Field(description='Method and path, e.g. "POST /admin/harvest"')
    outcome: Outcome
    status: int
    detail: str = ""
    client: str = ""

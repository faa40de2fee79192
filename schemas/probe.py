"""What checking a member's OAI-PMH endpoint reports (``lienhop members check``, the admin API)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

CheckStatus = Literal["ok", "warn", "fail"]


class ProbeCheck(BaseModel):
    """One check: ``ok``; ``warn`` (harvesting works, but look); ``fail`` (harvesting fails or misses)."""

    name: str
    status: CheckStatus
    detail: str


class ProbeReport(BaseModel):
    code: str
    oai_url: str | None
    repository: dict[str, Any] | None = Field(None, description="What Identify said")
    checks: list[ProbeCheck]

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return all(c.status != "fail" for c in self.checks)

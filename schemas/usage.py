"""Vendor usage: shared databases, their SUSHI credentials and yearly costs, harvest outcomes, the report.

Errors of this family sit in the tree of :mod:`schemas.errors`::

    Conflict (409)
    └── UsageDatabaseExists
    InvalidInput (422)
    └── CounterFormatError (a COUNTER report file or answer that cannot be read)
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator

from .errors import Conflict, InvalidInput


class UsageDatabaseExists(Conflict):
    title = "Shared database already registered"


class CounterFormatError(InvalidInput):
    title = "Unreadable COUNTER report"


CounterRelease = Literal["5", "5.1"]

#: Reports and standard views Lienhop can ask a SUSHI server for (COUNTER R5 and R5.1 share the names).
KNOWN_REPORTS = (
    "DR", "DR_D1", "DR_D2",
    "TR", "TR_B1", "TR_B2", "TR_B3", "TR_J1", "TR_J2", "TR_J3", "TR_J4",
    "PR", "PR_P1",
)  # fmt: skip

#: Where downloads come from, in order of preference: the Database Report, else its DR_D1 view.
DOWNLOAD_REPORTS = ("DR", "DR_D1")

HarvestState = Literal["ok", "no_usage", "not_ready", "queued", "unauthorized", "unsupported", "error"]

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the first day of that month; anything else is :class:`InvalidInput`."""
    match = _MONTH.match(text.strip())
    if not match:
        raise InvalidInput(f"month {text!r}: expected YYYY-MM")
    return date(int(match[1]), int(match[2]), 1)


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def check_sushi_url(url: str) -> str:
    """A SUSHI base URL as given by a vendor: http(s), a host, no user name, password or fragment.

    The URL comes from outside and is requested with members' credentials in its query string, so it
    is checked before it is stored; a query string of its own is refused (ours is added to it).
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("has no host")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password (give credentials separately)")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query string or fragment")
    return url.rstrip("/")


class UsageCost(BaseModel):
    """The subscription cost of a shared database for one year."""

    year: int = Field(..., ge=1990, le=2200)
    amount: Decimal = Field(..., ge=0, max_digits=18, decimal_places=4)
    currency: str = Field("USD", description="ISO 4217 code, e.g. USD, VND")

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        value = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError("must be a three-letter ISO 4217 code such as USD or VND")
        return value


class UsageDatabaseCreate(BaseModel):
    """A shared database (a vendor's platform) whose usage the consortium collects through SUSHI."""

    code: str = Field(..., description="Short code, e.g. SCIENCEDIRECT")
    name: str = Field(..., min_length=1, max_length=300)
    sushi_url: str = Field(..., description="SUSHI base URL; /reports/dr etc. are appended")
    release: CounterRelease = "5"
    reports: list[str] = Field(default_factory=lambda: ["DR", "TR", "PR"])

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().upper()
            if not _CODE.match(value):
                raise ValueError("use 1-32 letters, digits, _ or -")
        return value

    @field_validator("sushi_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_sushi_url(value)

    @field_validator("reports")
    @classmethod
    def _reports(cls, value: list[str]) -> list[str]:
        chosen = list(dict.fromkeys(r.strip().upper() for r in value if r.strip()))
        if unknown := [r for r in chosen if r not in KNOWN_REPORTS]:
            raise ValueError(f"unknown report {', '.join(unknown)} (known: {', '.join(KNOWN_REPORTS)})")
        if not chosen:
            raise ValueError("name at least one report")
        return chosen


class UsageDatabaseAdd(UsageDatabaseCreate):
    """What ``POST /admin/usage/databases`` takes: the database and, optionally, one year's cost."""

    cost: UsageCost | None = None


class UsageDatabase(UsageDatabaseCreate):
    created: datetime | None = None
    costs: list[UsageCost] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list, description="Members with SUSHI credentials")


class CredentialsSet(BaseModel):
    """A member's SUSHI credentials for one database. Never shown back, never logged."""

    customer_id: SecretStr
    requestor_id: SecretStr | None = None
    api_key: SecretStr | None = None

    @field_validator("customer_id")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value


class CredentialsPublic(BaseModel):
    """What an answer may say about stored credentials: whether each part is set, nothing more."""

    database: str
    member: str
    has_customer_id: bool = True
    has_requestor_id: bool
    has_api_key: bool
    updated: datetime | None = None


class HarvestOutcome(BaseModel):
    """The state of one report of one member for one month, after the last attempt."""

    database: str
    member: str
    report_id: str
    month: str
    status: HarvestState
    code: int | None = Field(None, description="The SUSHI exception code, when there was one")
    message: str = ""
    rows: int = 0
    attempts: int = 0
    source: Literal["sushi", "file"] = "sushi"
    updated: datetime | None = None


class HarvestSummary(BaseModel):
    """One database and member after a harvest: how many months ended in each state."""

    database: str
    member: str
    counts: dict[str, int] = Field(default_factory=dict)
    rows: int = 0
    problems: list[HarvestOutcome] = Field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(p.status in {"unauthorized", "error"} for p in self.problems)


class ImportResult(BaseModel):
    database: str
    member: str
    report_id: str
    release: str
    months: list[str]
    rows: int
    exceptions: list[str] = Field(default_factory=list)


class UsageCell(BaseModel):
    """Downloads of one database by one member in one month."""

    member: str
    database: str
    month: str
    total_item_requests: int
    unique_item_requests: int
    report_id: str = Field(..., description="The report the figures come from: DR, else DR_D1")


class MonthUsage(BaseModel):
    total_item_requests: int = 0
    unique_item_requests: int = 0


class YearUsage(BaseModel):
    year: int
    total_item_requests: int
    unique_item_requests: int
    months_with_data: int
    monthly_average: float | None


class DatabaseUsage(BaseModel):
    code: str
    name: str
    total_item_requests: int
    unique_item_requests: int
    months: dict[str, int]
    cost: float | None = None
    currency: str | None = None
    cost_per_download: float | None = None


class MemberUsage(BaseModel):
    rank: int
    code: str
    name: str | None = None
    total_item_requests: int
    unique_item_requests: int
    share: float = Field(..., description="This member's part of the consortium's requests (0-1)")
    months: dict[str, int]
    databases: dict[str, int] = Field(default_factory=dict)
    cost_share: float | None = Field(None, description="The subscription cost shared out by use")
    currency: str | None = None


class OwnCounts(BaseModel):
    """Lienhop's own use, counted by COUNTER's rules (robots left out, a double click counted once)."""

    searches: int = Field(0, description="Searches and lookups (by ISBN, ISSN, DOI or title)")
    views: int = Field(0, description="Record and work views")
    link_outs: int = Field(0, description="Clicks through to a holding member's OPAC (/go)")


class OwnMemberUsage(OwnCounts):
    """The use of Lienhop made for one member: from its pages, its widget, its client key or origin."""

    code: str
    name: str | None = None
    api_calls: int = Field(0, description="Of these, the API calls made with the member's client key")
    link_outs_to: int = Field(0, description="Link-outs to this member's OPAC, whoever searched")
    months: dict[str, OwnCounts] = Field(default_factory=dict)


class OwnUsage(OwnCounts):
    """Lienhop's own use in the year: every search, view and link-out (the requesting member known or
    not, unless the report is one member's), per month and per requesting member."""

    months: dict[str, OwnCounts] = Field(default_factory=dict)
    members: list[OwnMemberUsage] = Field(default_factory=list)


class UsageReport(BaseModel):
    """The consortium's yearly usage of its shared databases, as the secretariat reports it."""

    year: int
    member: str | None = None
    database: str | None = None
    total_item_requests: int
    unique_item_requests: int
    months_with_data: int
    monthly_average: float | None = Field(None, description="Over the months with data")
    months: dict[str, MonthUsage]
    previous_year: YearUsage | None = None
    change_monthly_average: float | None = Field(
        None, description="Year-on-year change of the monthly average, as a fraction (0.05 = +5%)"
    )
    change_total: float | None = None
    cost: float | None = None
    currency: str | None = None
    cost_per_download: float | None = None
    databases: list[DatabaseUsage]
    members: list[MemberUsage]
    history: list[YearUsage]
    rows: list[UsageCell] = Field(default_factory=list, description="Per member, database and month")
    lienhop: OwnUsage = Field(
        default_factory=OwnUsage, description="Lienhop's own searches, views and link-outs, per member"
    )


# ------------------------------------------------------------------ the member scorecard (usage/scorecard.py)


class ScorecardFigures(BaseModel):
    """One member's year: what it shares, how fresh, how clean, how used."""

    records_active: int = Field(0, description="Records live at the year's end")
    records_added: int = Field(0, description="Records first harvested or imported in the year")
    records_deleted: int = Field(0, description="Records withdrawn (tombstoned) in the year")
    last_successful_harvest: datetime | None = Field(
        None, description="Last harvest that succeeded, up to the year's end"
    )
    harvests: int = Field(0, description="Harvests run in the year")
    harvests_succeeded: int = 0
    harvest_success_share: float | None = Field(None, description="Succeeded / run (0-1); null when none ran")
    scheduled_harvests: int = Field(
        0, description="Of the year's harvests, those the server's scheduler started"
    )
    scheduled_harvests_succeeded: int = 0
    scheduled_success_share: float | None = Field(
        None, description="Scheduled harvests that succeeded / run (0-1); null when none ran"
    )
    days_failing: float = Field(0, description="Days of the year whose latest harvest had failed")
    records_processed: int = Field(0, description="Records read by the year's harvests and imports")
    quarantined: int = 0
    quarantine_rate: float | None = Field(None, description="Quarantined / processed (0-1)")
    database_downloads: int = Field(0, description="Total_Item_Requests of the shared databases (DR)")
    lienhop_searches: int = Field(0, description="Searches and lookups made for the member")
    lienhop_views: int = 0
    lienhop_link_outs: int = Field(0, description="Link-outs made from the member's pages and widget")
    lienhop_api_calls: int = 0
    link_outs_to_member: int = Field(0, description="Link-outs to the member's OPAC from Lienhop")


class ScorecardMember(ScorecardFigures):
    rank: int
    code: str
    name: str
    status: str
    eligible_for_membership: date | None = Field(
        None, description="For observers: when they may become members"
    )
    previous: ScorecardFigures | None = Field(None, description="The same figures a year earlier")


class Scorecard(BaseModel):
    """How each member meets its obligations in one year, ranked by the records it shares live."""

    year: int
    members: list[ScorecardMember]

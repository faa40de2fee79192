"""Consortium members and the reports of their harvest and import runs."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .errors import InvalidInput, NotEligible, validation_message

MetadataPrefix = Literal["oai_dc", "marcxml"]
MemberStatus = Literal["member", "observer"]

#: The consortium's rule: an observer may become a full member after two years of observation.
OBSERVATION_YEARS = 2

#: How often each ``harvest_schedule`` harvests (``manual`` and ``None``: never by itself).
SCHEDULE_INTERVALS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
}
#: A scheduled harvest is overdue when it has not started this long after it was due (a quarter of
#: its interval): the server is down, the scheduler stopped, or harvests keep being skipped.
OVERDUE_AFTER = 0.25

_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Validation context of members read back from the store (see ``MemberBase._plain_text``).
STORED: dict[str, bool] = {"stored": True}


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
    origins: list[str] = Field(
        default_factory=list,
        description="Web origins of the member's OPAC (https://opac.example.vn): widget use and API calls "
        "from these pages are the member's usage",
    )

    @field_validator("name_vi", "name_en", "contact", "oai_url", "opac_url_template", "sets", mode="before")
    @classmethod
    def _plain_text(cls, value: object, info: ValidationInfo) -> object:
        # Control characters are never meant (PostgreSQL text cannot even hold NUL); names typed
        # decomposed are stored precomposed, like every Vietnamese text in Lienhop. What the store
        # already holds is read back as it is.
        if info.context and info.context.get("stored"):
            return value
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and _CONTROL.search(text):
                raise ValueError("must not contain control characters")
        if isinstance(value, str):
            return unicodedata.normalize("NFC", value.strip())
        return value

    @field_validator("oai_url", "opac_url_template")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @field_validator("origins", mode="before")
    @classmethod
    def _origins(cls, value: object, info: ValidationInfo) -> object:
        if info.context and info.context.get("stored"):
            return value if value is not None else []
        if not isinstance(value, list):
            return value
        found: list[str] = []
        for given in value:
            origin = web_origin(str(given)) if str(given).strip() else None
            if str(given).strip() and origin is None:
                raise ValueError(f"an origin is http(s)://host[:port], got {given!r}")
            if origin and origin not in found:
                found.append(origin)
        return found

    @field_validator("harvest_schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value not in {None, "daily", "weekly", "hourly", "manual"}:
            raise ValueError("harvest_schedule must be daily, weekly, hourly or manual")
        return value


_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?/?$")


def web_origin(url: str) -> str | None:
    """The origin (``scheme://host[:port]``, lower case, default port dropped) of a URL given as an
    origin, or None when it is not one: a path, a query, user info or a control character."""
    match = _ORIGIN.match(url.strip().lower())
    if match is None:
        return None
    scheme, host, port = match.groups()
    if port and int(port) != {"http": 80, "https": 443}[scheme]:
        return f"{scheme}://{host}:{int(port)}"
    return f"{scheme}://{host}"


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


class MemberUpdate(BaseModel):
    """Changes to a registered member: only the fields given change (``PATCH`` semantics).

    An optional text field given as ``null`` (JSON) or an empty string (command line) is cleared.
    """

    model_config = ConfigDict(extra="forbid")

    name_vi: str | None = Field(None, min_length=1)
    name_en: str | None = None
    status: MemberStatus | None = None
    observer_since: date | None = None
    joined: date | None = None
    oai_url: str | None = None
    metadata_prefix: MetadataPrefix | None = None
    sets: list[str] | None = None
    opac_url_template: str | None = None
    contact: str | None = None
    active: bool | None = None
    harvest_schedule: str | None = None
    origins: list[str] | None = None


_REQUIRED_FIELDS = ("name_vi", "status", "metadata_prefix", "sets", "active", "origins")
_CLEARABLE_TEXT = ("name_en", "oai_url", "opac_url_template", "contact", "harvest_schedule")

#: Changing any of these points the harvester at another listing: the next harvest lists it all.
HARVEST_SOURCE_FIELDS = frozenset({"oai_url", "metadata_prefix", "sets"})


def member_changes(current: Member, update: MemberUpdate, today: date, force: bool = False) -> dict[str, Any]:
    """The fields of ``current`` that ``update`` changes, with the consortium's rules applied.

    Promoting an observer to full member needs :data:`OBSERVATION_YEARS` of observation (raises
    :class:`~schemas.errors.NotEligible` before that, or when the start of observation is unknown,
    unless ``force``); a promotion without a ``joined`` date joins ``today``. Making a member an
    observer starts its observation ``today`` unless ``observer_since`` is given. Only real changes
    are returned (an empty dict: nothing to do).
    """
    given = update.model_dump(exclude_unset=True)
    for name in _REQUIRED_FIELDS:
        if given.get(name, "") is None:
            del given[name]  # these always hold a value: null means "leave as is"
    for name in _CLEARABLE_TEXT:
        if given.get(name) == "":
            given[name] = None
    status = given.get("status", current.status)
    if current.status == "observer" and status == "member":
        since = given.get("observer_since", current.observer_since)
        observed = current.model_copy(update={"observer_since": since})
        eligible = observed.eligible_for_membership()
        if not force:
            if eligible is None:
                raise NotEligible(
                    f"{current.code} is an observer with no start of observation on record, so the "
                    f"{OBSERVATION_YEARS}-year rule cannot be checked; give its observer-since date, "
                    "or force the promotion"
                )
            if eligible > today:
                raise NotEligible(
                    f"{current.code} has been an observer since {since}; it becomes eligible for full "
                    f"membership on {eligible} (in {(eligible - today).days} days); force the promotion to "
                    "override the rule"
                )
        if given.get("joined") is None:
            given["joined"] = today
    elif current.status == "member" and status == "observer" and given.get("observer_since") is None:
        given["observer_since"] = today
    merged = {**current.model_dump(), **given}
    try:
        MemberCreate.model_validate(merged)  # the same checks as registering (URLs, schedule, ...)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from exc
    return {k: v for k, v in given.items() if getattr(current, k) != v}


def next_harvest(member: Member, last_started: datetime | None, now: datetime) -> datetime | None:
    """When the member's schedule next harvests it: ``None`` if nothing harvests it by itself
    (manual schedule, inactive, no OAI-PMH URL, or never harvested).

    A schedule starts with the member's first harvest, which an admin starts (API or CLI): a newly
    registered URL is not fetched by the server on its own, so registering a member cannot make the
    server reach an address nobody has looked at yet.
    """
    interval = SCHEDULE_INTERVALS.get(member.harvest_schedule or "manual")
    if interval is None or not member.active or not member.oai_url or last_started is None:
        return None
    return last_started + interval


def harvest_overdue(member: Member, last_started: datetime | None, now: datetime) -> bool:
    """Whether a scheduled harvest is well past due (see :data:`OVERDUE_AFTER`); never harvested
    members are due, not overdue."""
    due = next_harvest(member, last_started, now)
    if due is None or last_started is None:
        return False
    interval = SCHEDULE_INTERVALS[member.harvest_schedule or "manual"]
    return now > due + interval * OVERDUE_AFTER


class RecordCounts(BaseModel):
    active: int = 0
    deleted: int = 0
    quarantined: int = 0


#: ``rederive``: stored records mapped again from their kept metadata (``lienhop rederive``)
RunKind = Literal["harvest", "import", "rederive"]


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
    next_harvest: datetime | None = Field(
        None,
        description="When the schedule harvests next (null: manual, inactive, no OAI-PMH URL, or never "
        "harvested: a schedule starts with the first harvest an admin starts)",
    )
    harvest_overdue: bool = Field(
        False, description="A scheduled harvest is well past due: the schedule is not running"
    )

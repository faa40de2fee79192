"""Where a member's harvest stands: the checkpoint saved with every committed page, and where a run
starts (the saved checkpoint of an interrupted run, or a fresh one, incremental when it can be).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.member import Member
from schemas.settings import Settings
from store.front import RecordStore

from .oai.protocol import RepositoryInfo, format_datestamp
from .records import RowsPage

STATE_VERSION = 1


@dataclass
class Checkpoint:
    """Where a member's harvest stands; saved with every committed page."""

    run_id: int | None
    prefix: str
    sets: list[str | None]
    from_: str | None
    until: str | None
    full: bool
    set_index: int = 0
    token: str | None = None
    high_water: datetime | None = None
    pages: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    listed: int = 0  # records (stored or quarantined) received so far in the listing of the current set

    def next_set(self) -> None:
        """The current set is listed whole: point at the next one, from its first page."""
        self.set_index += 1
        self.token = None
        self.listed = 0

    def absorb(self, page: RowsPage) -> None:
        """Carry a page's high-water datestamp and list size into the checkpoint."""
        for rec in page.records:
            if rec.datestamp is not None and (self.high_water is None or rec.datestamp > self.high_water):
                self.high_water = rec.datestamp
        self.pages += 1
        self.listed += len(page.records) + len(page.bad)
        if page.complete_list_size is not None:
            self.totals[str(self.set_index)] = page.complete_list_size

    @property
    def listed_whole(self) -> bool:
        """Whether the current set's listing has delivered every record its ``completeListSize`` said."""
        size = self.totals.get(str(self.set_index))
        return size is not None and self.listed >= size

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "run_id": self.run_id,
            "prefix": self.prefix,
            "sets": self.sets,
            "from": self.from_,
            "until": self.until,
            "full": self.full,
            "set_index": self.set_index,
            "token": self.token,
            "high_water": self.high_water.isoformat() if self.high_water else None,
            "pages": self.pages,
            "totals": self.totals,
            "listed": self.listed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint | None:
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return None
        try:
            high = data.get("high_water")
            return cls(
                run_id=data.get("run_id"),
                prefix=data["prefix"],
                sets=list(data["sets"]),
                from_=data.get("from"),
                until=data.get("until"),
                full=bool(data.get("full")),
                set_index=int(data.get("set_index", 0)),
                token=data.get("token"),
                high_water=datetime.fromisoformat(high) if high else None,
                pages=int(data.get("pages", 0)),
                totals=dict(data.get("totals") or {}),
                listed=int(data.get("listed", 0)),
            )
        except (KeyError, TypeError, ValueError):
            return None


def incremental_from(last_high_water: datetime | None, settings: Settings, granularity: str) -> str | None:
    """The ``from`` of an incremental harvest: the last high-water mark minus the overlap."""
    if last_high_water is None:
        return None
    start = last_high_water - timedelta(seconds=settings.harvest_overlap_seconds)
    return format_datestamp(start, granularity)


async def resume_or_start(
    store: RecordStore,
    settings: Settings,
    member: Member,
    run_id: int,
    full: bool,
    saved: dict[str, Any] | None,
    last_high_water: datetime | None,
    info: RepositoryInfo,
) -> Checkpoint:
    """The saved checkpoint when it still fits the member (and the run it belonged to is closed as
    interrupted), else a fresh one: ``from`` the last high-water mark unless ``full``.
    """
    sets: list[str | None] = list(member.sets) or [None]
    prefix = member.metadata_prefix
    old = Checkpoint.from_json(saved) if saved else None
    if old is not None and old.prefix == prefix and old.sets == sets and (old.full or not full):
        if old.run_id is not None and old.run_id != run_id:
            previous = await store.get_run(old.run_id)
            if previous.finished is None:  # killed mid-harvest: close it for the record
                await store.finish_run(old.run_id, ok=False, error=f"interrupted; resumed by run {run_id}")
        old.run_id = run_id
        return old
    from_ = None if full else incremental_from(last_high_water, settings, info.granularity)
    return Checkpoint(run_id=run_id, prefix=prefix, sets=sets, from_=from_, until=None, full=full)

"""Lienhop's own usage, counted by COUNTER's rules and written in batches off the request path.

A request only calls :meth:`UsageRecorder.record`, which is synchronous and cheap: it drops robots and
crawlers (the COUNTER robots list, from the ``counter-robots`` package), derives a session id, drops
a double click (the same session, kind and item within :data:`DOUBLE_CLICK_SECONDS`) and appends one
row to a list in memory. A background task writes the list every ``flush_seconds`` or as soon as
``batch_size`` rows wait, and :meth:`UsageRecorder.close` (the app lifespan's shutdown) writes what is
left, so a clean shutdown loses nothing.

Privacy: the client address and user agent are used only to derive the session id, a hash with a salt
that lives in memory and changes every UTC day (COUNTER 7.3: address + user agent + date + hour when
there is no session cookie); neither is stored, nor is the salt. What is stored per event is a hash of
(session, item), ``unit``, which is all unique counting needs.

Attribution is resolved when a batch is written, not on the request: the requesting member from a
member code given by the page (the widget's ``member``) or by the API-key hook (``member`` argument),
else from the request's origin, which a member registers (``lienhop members update CODE --origin
URL``); the holding member from the record id (``{member}-{digest}``, :func:`schemas.record.record_id`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal

import counter_robots  # type: ignore[import-untyped]  # ships no type hints
from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from store.tables import members

from .tables import own_events, own_monthly

log = logging.getLogger(__name__)

EventKind = Literal["search", "lookup", "view", "request"]
EventSource = Literal["page", "widget", "api"]

#: COUNTER 7.2: two clicks on the same item by the same user within 30 seconds count once.
DOUBLE_CLICK_SECONDS = 30.0
#: Rows bound and sent to the database at a time while a batch is written.
WRITE_SLICE = 50
#: Members' codes and origins are read again after this long (a new ``--origin`` counts within it).
MEMBERS_REFRESH_SECONDS = 30.0


@lru_cache(maxsize=4096)
def is_robot(user_agent: str) -> bool:
    """Whether COUNTER's list names this user agent a robot or crawler; no user agent is a robot too.

    The list's regular expression is long: a page's few user agents are looked up once each."""
    return not user_agent.strip() or counter_robots.is_robot(user_agent)


class Sessions:
    """Session ids from a daily-rotating random salt, the client's address, user agent and the hour;
    and the (session, item) units already looked at or requested, for the unique counts.

    A session never outlives its day (the salt changes), so the units seen are kept for the day only.
    """

    def __init__(self) -> None:
        self._day: date | None = None
        self._salt = b""
        self.looked: set[str] = set()
        self.requested: set[str] = set()

    def session_id(self, client: str, user_agent: str, at: datetime) -> str:
        day = at.date()
        if day != self._day:  # yesterday's salt is forgotten: yesterday's ids can no longer be recomputed
            self._day, self._salt = day, secrets.token_bytes(32)
            self.looked, self.requested = set(), set()
        text = f"{client}\x1f{user_agent}\x1f{at.hour}".encode()
        return hashlib.blake2b(text, key=self._salt, digest_size=12).hexdigest()


class DoubleClicks:
    """The last time each (session, kind, item) was counted, forgotten after the window."""

    def __init__(self, window: float = DOUBLE_CLICK_SECONDS) -> None:
        self.window = window
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def is_double(self, key: tuple[str, str, str], now: float) -> bool:
        while self._seen:  # oldest first: drop what has left the window
            oldest, seen_at = next(iter(self._seen.items()))
            if now - seen_at <= self.window:
                break
            del self._seen[oldest]
        last = self._seen.get(key)
        # a click within the window of the last one is the same click: a burst of clicks, each
        # within 30 seconds of the one before, counts once
        self._seen[key] = now
        self._seen.move_to_end(key)
        return last is not None and now - last <= self.window


_COLUMNS = ("at", "month", "kind", "source", "member", "holder", "item", "unit")
_SQLITE_INSERT = (
    f"INSERT INTO own_usage_events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
)


def _sqlite_values(row: dict[str, Any]) -> tuple[Any, ...]:
    # the text store.tables.UTCDateTime writes on SQLite (UTC, microseconds, no zone) and ISO dates
    at: datetime = row["at"].astimezone(UTC)
    month: date = row["month"]
    return (at.isoformat(" ", "microseconds")[:26], month.isoformat(), *(row[c] for c in _COLUMNS[2:]))


@dataclass(slots=True)
class _Pending:
    at: datetime
    kind: str
    source: str
    item: str | None
    unit: str
    member: str | None
    origin: str | None
    first_look: bool
    first_request: bool


def _monthly_sums(rows: list[dict[str, Any]], batch: list[_Pending]) -> list[dict[str, Any]]:
    sums: dict[tuple[Any, ...], list[int]] = {}
    for row, event in zip(rows, batch, strict=True):
        key = (row["month"], row["member"] or "", row["holder"] or "", row["kind"], row["source"])
        cell = sums.setdefault(key, [0, 0, 0])
        cell[0] += 1
        cell[1] += event.first_look
        cell[2] += event.first_request
    names = ("month", "member", "holder", "kind", "source")
    return [
        {**dict(zip(names, key, strict=True)), "events": e, "first_looks": looks, "first_requests": requests}
        for key, (e, looks, requests) in sums.items()
    ]


MONTHLY_SUMS = ("events", "first_looks", "first_requests")


def _add_to_months(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE adding a batch's sums to the months' (SQLite and PostgreSQL)."""
    keys = list(own_monthly.primary_key.columns)
    if dialect == "sqlite":
        lite = sqlite_insert(own_monthly)
        return lite.on_conflict_do_update(
            index_elements=keys, set_={n: own_monthly.c[n] + lite.excluded[n] for n in MONTHLY_SUMS}
        )
    pg = postgresql_insert(own_monthly)
    return pg.on_conflict_do_update(
        index_elements=keys, set_={n: own_monthly.c[n] + pg.excluded[n] for n in MONTHLY_SUMS}
    )


def holder_of(item: str | None) -> str | None:
    """The member a record id belongs to (``nasati-0123abcd...`` -> ``NASATI``); None for a work
    (``work:<id>``)."""
    if not item or item.startswith("work:"):
        return None
    code, sep, digest = item.rpartition("-")
    return code.upper() if sep and len(digest) == 16 else None


class UsageRecorder:
    """Counts events in memory and writes them in batches (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        flush_seconds: float = 1.0,
        batch_size: int = 500,
        clock: Any = time.monotonic,
    ) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.batch_size = batch_size
        self.enabled = True
        self._clock = clock
        self._sessions = Sessions()
        self._doubles = DoubleClicks()
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._codes: set[str] = set()
        self._origins: dict[str, str] = {}
        self._members_read = -MEMBERS_REFRESH_SECONDS
        self.written = 0

    # ------------------------------------------------------------------ on the request path

    def record(
        self,
        kind: EventKind,
        source: EventSource,
        *,
        client: str,
        user_agent: str,
        item: str | None = None,
        member: str | None = None,
        origin: str | None = None,
        at: datetime | None = None,
        key: str | None = None,
    ) -> bool:
        """Count one event; False when COUNTER's rules leave it out (robot, double click, counting off).

        ``key`` tells double clicks apart when there is no item: a search's query string."""
        if not self.enabled or is_robot(user_agent):
            return False
        at = at or datetime.now(UTC)
        session = self._sessions.session_id(client, user_agent, at)
        if self._doubles.is_double((session, kind, item or key or ""), self._clock()):
            return False
        unit = hashlib.blake2b(f"{session}\x1f{item or ''}".encode(), digest_size=8).hexdigest()
        first_look = first_request = False
        if kind in ("view", "request"):
            first_look = unit not in self._sessions.looked
            self._sessions.looked.add(unit)
        if kind == "request":
            first_request = unit not in self._sessions.requested
            self._sessions.requested.add(unit)
        self._pending.append(
            _Pending(at, kind, source, item, unit, member, origin, first_look, first_request)
        )
        if len(self._pending) >= self.batch_size:
            self._wake.set()
        return True

    # ------------------------------------------------------------------ off the request path

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="usage-events")

    async def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the store is busy or down: the rows stay queued for the next turn
                log.exception("writing usage events failed; retrying")

    async def close(self) -> None:
        """Stop the background task and write every event still queued."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> int:
        """Write the queued events now; returns how many were written."""
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                await self._refresh_members()
                rows = [self._row(event) for event in batch]
                sums = _monthly_sums(rows, batch)
                async with self.engine.begin() as conn:
                    await conn.execute(_add_to_months(conn.dialect.name), sums)
                    if conn.dialect.name == "sqlite":
                        # the driver binds the rows in its own thread, in C: the event loop, which
                        # answers the searches, is not held while SQLAlchemy would bind each value
                        await conn.exec_driver_sql(_SQLITE_INSERT, [_sqlite_values(row) for row in rows])
                    else:
                        # in slices: binding a slice holds the event loop for a moment only
                        for start in range(0, len(rows), WRITE_SLICE):
                            await conn.execute(insert(own_events), rows[start : start + WRITE_SLICE])
            except BaseException:
                self._pending[:0] = batch  # keep them, in order, ahead of the newer ones
                raise
            self.written += len(rows)
            return len(rows)

    async def _refresh_members(self) -> None:
        now = self._clock()
        if now - self._members_read < MEMBERS_REFRESH_SECONDS:
            return
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(members.c.code, members.c.origins))).all()
        self._codes = {code for code, _ in found}
        self._origins = {origin: code for code, origins in found for origin in origins or []}
        self._members_read = now

    def forget_members(self) -> None:
        """Read members' codes and origins again at the next write (after a member changed)."""
        self._members_read = -MEMBERS_REFRESH_SECONDS

    def _row(self, event: _Pending) -> dict[str, Any]:
        member = event.member.upper() if event.member else None
        if member not in self._codes:
            member = self._origins.get(event.origin or "")
        holder = holder_of(event.item) if event.kind in {"view", "request"} else None
        return {
            "at": event.at,
            "month": event.at.date().replace(day=1),
            "kind": event.kind,
            "source": event.source,
            "member": member,
            "holder": holder if holder in self._codes else None,
            "item": event.item[:120] if event.item else None,
            "unit": event.unit,
        }

"""Harvest the consortium's members over OAI-PMH into the record store, page by durable page.

Each page is committed together with the checkpoint that says how to fetch the next one (set index,
resumptionToken, ``from``/``until``, the high-water datestamp so far), so a harvest killed at any
moment resumes at the next run from the saved token and ends with the same store as an uninterrupted
one. Incremental harvests ask ``from`` = the last complete harvest's high-water mark minus an overlap,
at the repository's granularity.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import httpx

from schemas.errors import BadResumptionToken, HarvestError, InvalidInput
from schemas.member import Member, RunReport
from schemas.progress import NullProgress, ProgressSink
from schemas.record import QuarantinedItem, Record
from schemas.settings import Settings
from store.front import RecordStore
from store.rows import RecordRow

from .idle import SpareCore
from .oai import (
    BadArgument,
    HostLimiter,
    MalformedPage,
    NoRecordsMatch,
    OAIClient,
    RepositoryInfo,
    ResumptionTokenLoop,
    format_datestamp,
    list_params,
    make_http_client,
    oai_query,
    other_granularity,
    parse_datestamp,
    trailing_token,
)
from .parse_dc import RowsPage, decode_in_worker, read_rows_page, start_worker, worker_ready
from .reconcile import UNREPORTED_DELETIONS, reconcile

log = logging.getLogger(__name__)

STATE_VERSION = 1
_MAX_TOKEN_RESTARTS = 2  # badResumptionToken restarts of one set's listing before giving up
_QUARANTINE_RAW_LIMIT = 4 * 1024 * 1024
# Below this many records a list is read on the event loop: starting a worker process (about half a
# second of imports) would not pay for itself.
POOL_MIN_RECORDS = 2000

OnCommit = Callable[[], Awaitable[None]]


async def harvest_members(
    store: RecordStore,
    settings: Settings,
    codes: Sequence[str] | None = None,
    full: bool = False,
    progress: ProgressSink | None = None,
    on_commit: OnCommit | None = None,
    reconcile: bool | None = None,
    force: bool = False,
) -> list[RunReport]:
    """Harvest active members with an OAI-PMH URL (all, or those in ``codes``), a few at a time.

    An unknown code raises :class:`~schemas.errors.NotFound` before anything starts; a requested
    member without an ``oai_url`` raises :class:`~schemas.errors.InvalidInput`. A member that fails
    gets a failed RunReport; the others go on. ``full`` ignores the incremental high-water mark.

    ``reconcile`` tombstones records the repository no longer lists (see :mod:`.reconcile`) after a
    complete harvest: ``True`` always, ``False`` never, ``None`` (default) for a repository that does
    not report every deletion (``deletedRecord`` ``no`` or ``transient``) on a ``full`` harvest or
    when the last reconciliation is ``reconcile_every_days`` old.
    ``force`` lets it delete more than ``reconcile_max_fraction`` of a member's records.
    """
    if codes is None:
        chosen = [m for m in await store.list_members(active_only=True) if m.oai_url]
    else:
        chosen = [await store.get_member(code) for code in codes]  # NotFound for unknown codes
        missing = [m.code for m in chosen if not m.oai_url]
        if missing:
            raise InvalidInput(f"member(s) without an OAI-PMH URL: {', '.join(missing)}")
        chosen = [m for m in chosen if m.active]
    sink = progress or NullProgress()
    limit = asyncio.Semaphore(settings.harvest_concurrency)
    limiter = HostLimiter(settings.per_host_concurrency)
    decoder = PageDecoder.from_settings(settings)
    try:
        with _older_objects_frozen():
            async with make_http_client(settings) as http:

                async def one(member: Member) -> RunReport:
                    async with limit:
                        job = MemberHarvest(
                            store, settings, member, http, limiter, full, sink, on_commit, decoder,
                            reconcile=reconcile, force=force,
                        )  # fmt: skip
                        return await job.run()

                return list(await asyncio.gather(*(one(m) for m in chosen)))
    finally:
        await decoder.close()


_frozen_by = 0  # harvests running in this process with the older objects frozen


@contextlib.contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """Leave the objects that exist before the harvest out of the cyclic collector's full passes.

    A harvest promotes thousands of objects (a page of records) to the oldest generation per page,
    which sets off a full collection every few pages, and each walked the whole program (SQLAlchemy,
    pydantic's schemas, pycountry's tables: about 0.1 s apiece, a tenth of a harvest's time). Frozen
    objects are still freed when no longer referenced; only garbage *cycles* among them wait until
    the harvest ends and they are unfrozen (and collected as usual).
    """
    global _frozen_by
    if _frozen_by == 0:
        gc.freeze()
    _frozen_by += 1
    try:
        yield
    finally:
        _frozen_by -= 1
        if _frozen_by == 0:
            gc.unfreeze()


def _revive(error: tuple[type[BaseException], tuple[Any, ...], dict[str, Any]]) -> BaseException:
    cls, args, state = error
    exc = cls.__new__(cls)
    exc.args = args
    vars(exc).update(state)
    return exc


def _retrieve(future: asyncio.Future[Any]) -> None:
    # a failed warm-up only means pages are read inline, a failed early fetch is made again or not
    # needed: asyncio must not log either as unhandled
    if not future.cancelled():
        future.exception()


class PageDecoder:
    """Reads ListRecords responses into records: in worker processes for big lists, else inline.

    Parsing and normalising is CPU work; on the event loop it cannot overlap with fetching the next
    page or committing the last one, and it was most of a harvest's time. A worker process (threads
    would share the GIL with the loop) takes the bytes of a page and returns its records. The pool is
    started only when a list proves big (see :data:`POOL_MIN_RECORDS`), and pages are read inline
    until its workers have imported the parsers, so small harvests never wait for a process to start.
    The results are the same either way: :func:`~harvesters.parse_dc.read_rows_page` is pure.
    """

    def __init__(self, workers: int, automatic: bool = True) -> None:
        self.workers = workers
        # automatic: start workers only for big lists on an idle machine, read inline meanwhile;
        # otherwise (an explicit worker count) always use the workers, waiting for them to start.
        self.automatic = automatic
        self._pool: ProcessPoolExecutor | None = None
        self._ready: asyncio.Future[None] | None = None
        self.pages_in_workers = 0
        self._spare = SpareCore() if automatic and workers > 0 else None

    @classmethod
    def from_settings(cls, settings: Settings) -> PageDecoder:
        """Workers as ``harvest_parse_workers`` says: unset = automatic, 0 = none, N = always N.

        Automatic is a worker per core (at most one per member harvested at once), none on a single
        core. The harvesting process, which now only fetches and commits, needs a third to a half of a
        core: on two cores, two workers read MARCXML 40% faster than one did (bench/harvest.py).
        """
        if settings.harvest_parse_workers is None:
            cores = os.cpu_count() or 1
            return cls(min(settings.harvest_concurrency, cores) if cores > 1 else 0)
        return cls(settings.harvest_parse_workers, automatic=False)

    def expect(self, records: int | None) -> None:
        """A list of ``records`` records (``None``: unknown size, but more than one page) is coming."""
        if self.workers < 1 or self._pool is not None:
            return
        if self.automatic:
            if records is not None and records < POOL_MIN_RECORDS:
                return
            # asked again at the next page while the machine is busy (or it is too early to tell)
            if self._spare is None or not self._spare.free():
                return
        # spawn, not fork: the harvest process has threads (SQLite, the executor's own). Like every
        # spawned worker it imports the program's main module again, so scripts that harvest need the
        # usual ``if __name__ == "__main__":`` guard (the ``lienhop`` console script has it).
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context, initializer=start_worker
        )
        self._ready = asyncio.get_running_loop().run_in_executor(self._pool, worker_ready)
        self._ready.add_done_callback(_retrieve)

    @property
    def _workers_ready(self) -> bool:
        """Whether pages go to the workers: started, and done importing the parsers without error."""
        ready = self._ready
        return self._pool is not None and ready is not None and ready.done() and ready.exception() is None

    @property
    def read_ahead(self) -> int:
        """Pages a list may have read ahead of the one it waits for: one per worker once they are ready.

        With as many pages queued as there are workers besides the awaited one, a worker that is done
        goes straight on to the next page. Read on the event loop, a page is read in its turn (reading
        ahead would only move the work earlier).
        """
        return self.workers if self._workers_ready else 0

    async def decode(self, data: bytes, member: str, metadata_prefix: str) -> RowsPage:
        """The page's records as store rows; raises as :func:`~harvesters.parse_dc.read_records_page` does."""
        ready = self._ready
        if not self.automatic and ready is not None:
            with contextlib.suppress(Exception):  # a failed start shows below and falls back inline
                await asyncio.shield(ready)
        if not self._workers_ready:
            return read_rows_page(data, member, metadata_prefix)
        loop = asyncio.get_running_loop()
        try:
            outcome = await loop.run_in_executor(self._pool, decode_in_worker, data, member, metadata_prefix)
        except BrokenProcessPool:  # a worker died (killed, out of memory): carry on inline
            log.warning("page decoding worker died; parsing on the event loop from now on")
            self.workers = 0
            await self.close()
            return read_rows_page(data, member, metadata_prefix)
        self.pages_in_workers += 1
        if outcome.error is not None:
            raise _revive(outcome.error)
        assert outcome.page is not None
        return outcome.page

    async def close(self) -> None:
        """Stop the workers (waiting off the event loop for them to exit)."""
        pool, self._pool, self._ready = self._pool, None, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


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


class Listing(NamedTuple):
    """What a ListRecords request asks besides the token: the same for every page of one list."""

    prefix: str
    set_spec: str | None
    from_: str | None
    until: str | None


@dataclass(eq=False)
class _Ahead:
    """A page of the list asked for before its turn (see :meth:`MemberHarvest._fetch`)."""

    position: int
    token: str
    task: asyncio.Future[Any]  # the page read into rows (``read``), else its body
    read: bool


class MemberHarvest:
    """One member's harvest run: Identify, then ListRecords per set with a checkpoint per page."""

    def __init__(
        self,
        store: RecordStore,
        settings: Settings,
        member: Member,
        http: httpx.AsyncClient,
        limiter: HostLimiter,
        full: bool,
        progress: ProgressSink,
        on_commit: OnCommit | None,
        decoder: PageDecoder | None = None,
        reconcile: bool | None = None,
        force: bool = False,
    ) -> None:
        self.store = store
        self.decoder = decoder or PageDecoder(0)
        self.settings = settings
        self.member = member
        self.code = member.code
        self.full = full
        self.progress = progress
        self.on_commit = on_commit
        assert member.oai_url is not None
        self.client = OAIClient(member.oai_url, settings, http, limiter)
        self.run_id: int | None = None
        self._ahead: list[_Ahead] = []  # pages of the list fetched or read before their turn
        self._listed_tokens: set[str] = set()  # the tokens of the set being listed (a loop stops it)
        self.past_end_refused = 0  # sets whose last page carried a token the repository then refused
        self.regranulated: str | None = None  # the `from` sent again at the other granularity
        self.done = 0
        self.reconcile = reconcile  # see harvest_members
        self.force = force

    async def run(self) -> RunReport:
        """Harvest the member; never raises for a harvest fault (the report says what went wrong)."""
        report = await self.store.start_run(self.code, "harvest", params={"full": str(self.full).lower()})
        self.run_id = report.id
        assert self.run_id is not None
        self.progress.begin(self.code)
        try:
            message = await self._harvest()
        except Exception as exc:  # one member's failure must never stop the others
            error = f"{type(exc).__name__}: {exc}"
            log.warning("harvest of %s failed: %s", self.code, error)
            self.progress.end(self.code, ok=False, message=error)
            return await self.store.finish_run(self.run_id, ok=False, error=error)
        self.progress.end(self.code, ok=True, message=message)
        return await self.store.finish_run(self.run_id, ok=True)

    async def _harvest(self) -> str:
        info = await self.client.identify()
        await self.store.set_repository_info(self.code, info.as_dict())
        saved, last_high_water = await self.store.get_harvest_state(self.code)
        cp = await self._resume_or_start(saved, last_high_water, info)
        while cp.set_index < len(cp.sets):
            await self._list_set(cp)
        high_water = cp.high_water or last_high_water
        await self.store.set_harvest_state(self.code, None, last_high_water=high_water)
        cleaned = f", {self.client.cleaned_pages} page(s) cleaned" if self.client.cleaned_pages else ""
        message = f"{self.done} records in {cp.pages} pages{cleaned}"
        if self.regranulated is not None:
            message += f"; `from` refused at the declared granularity, sent as {self.regranulated}"
        if self.past_end_refused:
            message += (
                f"; the token after the last page refused in {self.past_end_refused} list(s), each already"
                " whole (completeListSize)"
            )
        now = datetime.now(UTC)
        last_reconciled = await self.store.last_reconciled(self.code)
        if self._reconciles(info, last_reconciled, now):
            found = await reconcile(
                self.store,
                self.client,
                self.code,
                cp.prefix,
                cp.sets,
                now,
                self.settings.reconcile_max_fraction,
                self.force,
                self._commit_tombstones,
            )
            await self.store.set_last_reconciled(self.code, now)
            message += f"; {found.summary()}"
        elif last_reconciled is None:
            # start the clock: the first complete harvest holds exactly what the repository lists
            await self.store.set_last_reconciled(self.code, now)
        return message

    def _reconciles(self, info: RepositoryInfo, last: datetime | None, now: datetime) -> bool:
        """Whether this harvest ends with a reconciliation (see :func:`harvest_members`)."""
        if self.reconcile is not None:
            return self.reconcile
        if info.deleted_record not in UNREPORTED_DELETIONS:
            return False
        if self.full:
            return True
        every = self.settings.reconcile_every_days
        return every > 0 and last is not None and now - last >= timedelta(days=every)

    async def _resume_or_start(
        self, saved: dict[str, Any] | None, last_high_water: datetime | None, info: RepositoryInfo
    ) -> Checkpoint:
        sets: list[str | None] = list(self.member.sets) or [None]
        prefix = self.member.metadata_prefix
        old = Checkpoint.from_json(saved) if saved else None
        if old is not None and old.prefix == prefix and old.sets == sets and (old.full or not self.full):
            if old.run_id is not None and old.run_id != self.run_id:
                previous = await self.store.get_run(old.run_id)
                if previous.finished is None:  # killed mid-harvest: close it for the record
                    await self.store.finish_run(
                        old.run_id, ok=False, error=f"interrupted; resumed by run {self.run_id}"
                    )
            old.run_id = self.run_id
            return old
        from_ = None if self.full else incremental_from(last_high_water, self.settings, info.granularity)
        return Checkpoint(
            run_id=self.run_id, prefix=prefix, sets=sets, from_=from_, until=None, full=self.full
        )

    async def _fetch(
        self,
        listing: Listing,
        token: str | None,
        position: int,
        body: asyncio.Future[bytes] | None = None,
    ) -> RowsPage:
        """Page ``position`` of a list (the page of ``token``), fetched and read into records.

        ``noRecordsMatch`` is an empty page. When the body arrives, the page after it is asked for
        at once, with the token its last bytes show (:func:`trailing_token`), so that reading a page
        never waits for the server to answer the next request; with several parsing workers, that
        page is read too while this one still is (see :meth:`_read_ahead`). Requests stay one after
        the other (the next one goes out once this one has been answered), and pages read ahead of
        a page whose real token contradicts the guess are thrown away. ``body`` is the page's body
        fetched ahead, if it was.
        """
        params = list_params("ListRecords", *listing, token)

        async def decode(data: bytes) -> RowsPage:
            self._read_ahead(listing, data, token, position)
            try:
                return await self.decoder.decode(data, self.code, listing.prefix)
            except BaseException:
                # the page is fetched again or given up: no request may overtake it
                self._drop_ahead(after=position)
                raise

        try:
            return await self.client.request_with("ListRecords", decode, body, **params)
        except NoRecordsMatch:
            return RowsPage(records=[], bad=[], token=None)

    def _page(self, listing: Listing, token: str | None, position: int) -> asyncio.Future[RowsPage]:
        """Page ``position`` of the list, of ``token``: the task reading it ahead, or a new one."""
        for entry in self._ahead:
            if entry.position == position and entry.token == token:
                self._ahead.remove(entry)
                if entry.read:
                    task = entry.task
                else:  # only its body is on the way
                    task = asyncio.ensure_future(self._fetch(listing, token, position, entry.task))
                break
        else:
            self._drop_ahead(after=position - 1)  # read ahead of a wrong guess
            task = asyncio.ensure_future(self._fetch(listing, token, position))
        self._promote(listing)
        return task

    def _read_ahead(self, listing: Listing, data: bytes, token: str | None, position: int) -> None:
        """Ask for the page after ``data`` (page ``position``, of ``token``) before its turn.

        It is read as well (fetched and parsed, and the page after it asked for in turn) while fewer
        pages are being read than the parsing workers can take; otherwise only its body is fetched.
        """
        self._drop_ahead(after=position)  # left from an earlier attempt at this page
        guess = trailing_token(data)
        if guess is None or guess == token or guess in self._listed_tokens:
            return  # a repeated token ends the listing with an error: nothing to fetch
        if any(entry.token == guess for entry in self._ahead):
            return
        read = sum(entry.read for entry in self._ahead) < self.decoder.read_ahead
        task: asyncio.Future[Any]
        if read:
            task = asyncio.ensure_future(self._fetch(listing, guess, position + 1))
        else:
            query = oai_query("ListRecords", list_params("ListRecords", *listing, guess))
            task = asyncio.ensure_future(self.client.fetch(query))
        task.add_done_callback(_retrieve)
        self._ahead.append(_Ahead(position + 1, guess, task, read))

    def _promote(self, listing: Listing) -> None:
        """Start reading the body fetched ahead, if a parsing worker has room for it now."""
        if not self._ahead or self._ahead[-1].read:
            return
        if sum(entry.read for entry in self._ahead) >= self.decoder.read_ahead:
            return
        last = self._ahead.pop()
        task = asyncio.ensure_future(self._fetch(listing, last.token, last.position, last.task))
        task.add_done_callback(_retrieve)
        self._ahead.append(_Ahead(last.position, last.token, task, True))

    def _drop_ahead(self, after: int) -> None:
        """Forget (and stop) what is being fetched or read ahead of page ``after``."""
        keep = []
        for entry in self._ahead:
            if entry.position > after:
                entry.task.cancel()
            else:
                keep.append(entry)
        self._ahead = keep

    async def _list_set(self, cp: Checkpoint) -> None:
        """Page through one set from the checkpoint's token, committing each page with the checkpoint.

        Returns with the checkpoint pointing at the next set.
        """
        restarts = 0
        seen = self._listed_tokens = set()
        listing = Listing(cp.prefix, cp.sets[cp.set_index], cp.from_, cp.until)
        token = cp.token
        position = 0  # pages asked for in this listing (restarts included)
        pending: asyncio.Future[RowsPage] | None = None
        try:
            while True:
                if token is not None:
                    seen.add(token)
                try:
                    page = await (pending or self._page(listing, token, position))
                except HarvestError as exc:
                    pending = None
                    if token is not None and self._listed_whole(cp):
                        # the page that completed the list carried a token all the same, and the
                        # repository refuses it (invenio-app-rdm#2715): the list is whole, the set done
                        log.warning("%s: the token after the last page was refused (%s)", self.code, exc)
                        self.past_end_refused += 1
                        cp.next_set()
                        await self.store.set_harvest_state(self.code, cp.to_json())
                        return
                    if isinstance(exc, MalformedPage):
                        await self._quarantine_page(cp, token, exc)
                        raise
                    if token is None and isinstance(exc, BadArgument) and self._regranulate(cp):
                        # the repository refused `from` at the granularity it declared: ask again at
                        # the other one (a day's `from` only widens the window)
                        log.warning("%s: `from` refused (%s); sent as %s", self.code, exc, cp.from_)
                        listing = listing._replace(from_=cp.from_)
                        position += 1
                        continue
                    if not isinstance(exc, BadResumptionToken) or token is None:
                        raise
                    if restarts >= _MAX_TOKEN_RESTARTS:
                        raise
                    # the token expired: list this set again from the checkpoint's `from`
                    restarts += 1
                    log.info("%s: resumptionToken expired, restarting the set listing", self.code)
                    token = None
                    cp.listed = 0
                    position += 1
                    seen.clear()
                    continue
                pending = None
                records, bad = page.records, page.bad
                self._absorb(cp, records, page)
                next_token = page.token
                if next_token is not None and next_token in seen:
                    # stored without a checkpoint: the next run lists again from the high-water mark
                    await self._commit(records, bad, None)
                    raise ResumptionTokenLoop(
                        f"repository repeated resumptionToken {next_token!r}; listing abandoned"
                    )
                if next_token is None:
                    cp.next_set()
                    await self._commit(records, bad, cp.to_json())
                    return
                # fetch and parse the next page (in a worker process for a big list) while this one
                # is being stored; pages are still committed strictly in order, one at a time
                self.decoder.expect(page.complete_list_size)
                position += 1
                pending = self._page(listing, next_token, position)
                cp.token = next_token
                await self._commit(records, bad, cp.to_json())
                token = next_token
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
            self._drop_ahead(after=-1)

    def _regranulate(self, cp: Checkpoint) -> bool:
        """Write the checkpoint's ``from`` at the other OAI granularity, once a run; whether it was."""
        if self.regranulated is not None or cp.from_ is None or cp.until is not None:
            return False
        when = parse_datestamp(cp.from_)
        if when is None:
            return False
        cp.from_ = self.regranulated = format_datestamp(when, other_granularity(cp.from_))
        return True

    @staticmethod
    def _listed_whole(cp: Checkpoint) -> bool:
        """Whether the current set's listing has delivered every record its ``completeListSize`` said."""
        size = cp.totals.get(str(cp.set_index))
        return size is not None and cp.listed >= size

    def _absorb(self, cp: Checkpoint, records: list[RecordRow], page: RowsPage) -> None:
        """Carry a page's high-water datestamp and list size into the checkpoint."""
        for rec in records:
            if rec.datestamp is not None and (cp.high_water is None or rec.datestamp > cp.high_water):
                cp.high_water = rec.datestamp
        cp.pages += 1
        cp.listed += len(records) + len(page.bad)
        if page.complete_list_size is not None:
            cp.totals[str(cp.set_index)] = page.complete_list_size

    async def _commit(
        self,
        records: list[RecordRow],
        bad: list[QuarantinedItem],
        state: dict[str, Any] | None,
    ) -> None:
        await self.store.commit_rows(self.code, self.run_id, records, bad, state=state)
        self.done += len(records) + len(bad)
        saved = state or {}
        totals = saved.get("totals") or {}
        self.progress.advance(self.code, len(records) + len(bad), total=sum(totals.values()) or None)
        await self._committed()

    async def _commit_tombstones(self, page: list[Record]) -> None:
        """Commit a page of reconciliation tombstones (the checkpoint is already cleared)."""
        await self.store.commit_page(self.code, self.run_id, page)
        await self._committed()

    async def _committed(self) -> None:
        if self.on_commit is not None:
            try:
                await self.on_commit()
            except Exception:  # the indexer catches up from the store's change feed later
                log.exception("on_commit hook failed after a page of %s", self.code)

    async def _quarantine_page(self, cp: Checkpoint, token: str | None, exc: MalformedPage) -> None:
        """Keep an unreadable page with its reason; the checkpoint stays, so the next run retries it."""
        raw = exc.raw[:_QUARANTINE_RAW_LIMIT].decode("utf-8", errors="replace")
        where = f"token {token!r}" if token else f"first page of set {cp.sets[cp.set_index]!r}"
        kind = "unsafe" if exc.unsafe else "malformed"
        item = QuarantinedItem(member=self.code, reason=f"{kind} ListRecords page ({where}): {exc}", raw=raw)
        await self.store.commit_page(self.code, self.run_id, [], [item])


__all__ = [
    "Checkpoint",
    "HarvestError",
    "MemberHarvest",
    "PageDecoder",
    "harvest_members",
    "incremental_from",
]

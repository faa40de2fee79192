"""Harvest the consortium's members over OAI-PMH into the record store, page by durable page.

Each page is committed together with the checkpoint that says how to fetch the next one (set index,
resumptionToken, ``from``/``until``, the high-water datestamp so far), so a harvest killed at any
moment resumes at the next run from the saved token and ends with the same store as an uninterrupted
one. Incremental harvests ask ``from`` = the last complete harvest's high-water mark minus an overlap,
at the repository's granularity.

This module runs members and a member's run; each step has its module: :mod:`.checkpoint` (where a
run stands and starts), :mod:`.listing` (a set page by page), :mod:`.read_ahead` (the next pages
asked for early), :mod:`.workers` (parse workers), :mod:`.commits` (pages into the store) and
:mod:`.reconcile` (deletions a repository does not report).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import httpx

from schemas.errors import InvalidInput
from schemas.member import Member, RunReport
from schemas.progress import NullProgress, ProgressSink
from schemas.settings import Settings
from store.front import RecordStore

from .checkpoint import Checkpoint, resume_or_start
from .commits import OnCommit, PageCommitter
from .listing import SetLister
from .oai.client import HostLimiter, OAIClient, make_http_client
from .oai.errors import DeadlineExceeded
from .oai.protocol import RepositoryInfo
from .read_ahead import PageReader
from .reconcile import reconcile, reconciliation_due
from .workers import PageDecoder

log = logging.getLogger(__name__)


async def harvest_members(
    store: RecordStore,
    settings: Settings,
    codes: Sequence[str] | None = None,
    full: bool = False,
    progress: ProgressSink | None = None,
    on_commit: OnCommit | None = None,
    reconcile: bool | None = None,
    force: bool = False,
    scheduled: bool = False,
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
    ``scheduled`` marks the runs as started by the server's scheduler (the member scorecard counts them).
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
    limiter = HostLimiter.shared(settings.per_host_concurrency)
    decoder = PageDecoder.from_settings(settings)
    try:
        with _older_objects_frozen():
            async with make_http_client(settings) as http:

                async def one(member: Member) -> RunReport:
                    async with limit:
                        job = MemberHarvest(
                            store, settings, member, http, limiter, full, sink, on_commit, decoder,
                            reconcile=reconcile, force=force, scheduled=scheduled,
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


class MemberHarvest:
    """One member's harvest run: Identify, then ListRecords per set with a checkpoint per page, then
    a reconciliation when one is due.
    """

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
        scheduled: bool = False,
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
        self.reconcile = reconcile  # see harvest_members
        self.force = force
        self.scheduled = scheduled

    async def run(self) -> RunReport:
        """Harvest the member; never raises for a harvest fault (the report says what went wrong)."""
        params = {"full": str(self.full).lower()}
        if self.scheduled:
            params["scheduled"] = "true"
        report = await self.store.start_run(self.code, "harvest", params=params)
        run_id = report.id
        assert run_id is not None
        self.progress.begin(self.code)
        deadline = self.settings.harvest_run_deadline
        try:
            try:
                async with asyncio.timeout(deadline):
                    message = await self._harvest(run_id)
            except TimeoutError:
                raise DeadlineExceeded(
                    f"the run took longer than its deadline ({deadline:g} s); the next one resumes from "
                    "the last page stored"
                ) from None
        except Exception as exc:  # one member's failure must never stop the others
            error = f"{type(exc).__name__}: {exc}"
            log.warning("harvest of %s failed: %s", self.code, error)
            self.progress.end(self.code, ok=False, message=error)
            return await self.store.finish_run(run_id, ok=False, error=error)
        self.progress.end(self.code, ok=True, message=message)
        return await self.store.finish_run(run_id, ok=True)

    async def _harvest(self, run_id: int) -> str:
        """Identify, every set from the checkpoint on, then reconciliation if due; the run's message."""
        info = await self.client.identify()
        await self.store.set_repository_info(self.code, info.as_dict())
        saved, last_high_water = await self.store.get_harvest_state(self.code)
        cp = await resume_or_start(
            self.store, self.settings, self.member, run_id, self.full, saved, last_high_water, info
        )
        commits = PageCommitter(self.store, self.code, run_id, self.progress, self.on_commit)
        reader = PageReader(self.client, self.decoder, self.code)
        lister = SetLister(self.code, reader, commits, self.settings.list_size_margin)
        while cp.set_index < len(cp.sets):
            await lister.list_set(cp)
        high_water = cp.high_water or last_high_water
        await self.store.set_harvest_state(self.code, None, last_high_water=high_water)
        message = self._summary(cp, commits, lister)
        return message + await self._reconcile_if_due(info, cp, commits)

    def _summary(self, cp: Checkpoint, commits: PageCommitter, lister: SetLister) -> str:
        cleaned = f", {self.client.cleaned_pages} page(s) cleaned" if self.client.cleaned_pages else ""
        message = f"{commits.done} records in {cp.pages} pages{cleaned}"
        if lister.regranulated is not None:
            message += f"; `from` refused at the declared granularity, sent as {lister.regranulated}"
        if lister.past_end_refused:
            message += (
                f"; the token after the last page refused in {lister.past_end_refused} list(s), each"
                " already whole (completeListSize)"
            )
        return message

    async def _reconcile_if_due(self, info: RepositoryInfo, cp: Checkpoint, commits: PageCommitter) -> str:
        """Reconcile the member when due (see :func:`harvest_members`); what it found, for the message."""
        now = datetime.now(UTC)
        last_reconciled = await self.store.last_reconciled(self.code)
        due = reconciliation_due(
            self.reconcile,
            info.deleted_record,
            self.full,
            self.settings.reconcile_every_days,
            last_reconciled,
            now,
        )
        if due:
            found = await reconcile(
                self.store,
                self.client,
                self.code,
                cp.prefix,
                cp.sets,
                now,
                self.settings.reconcile_max_fraction,
                self.force,
                commits.commit_tombstones,
            )
            await self.store.set_last_reconciled(self.code, now)
            return f"; {found.summary()}"
        if last_reconciled is None:
            # start the clock: the first complete harvest holds exactly what the repository lists
            await self.store.set_last_reconciled(self.code, now)
        return ""


__all__ = ["MemberHarvest", "harvest_members"]

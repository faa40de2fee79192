"""Background jobs (harvest, import, rederive, reindex) kept in the store, so every server process
sees them and the limits hold across processes.

A job is admitted into its kind's queue (at most ``job_queue`` waiting or running; a reindex asked
while one is waiting or running answers that one), then waits for its turn: one job of a kind runs at
a time across every process. It runs as an asyncio task of the process that admitted it; its
:class:`Job` is also the :class:`~schemas.progress.ProgressSink` its work reports to, written to the
store every ``FLUSH_SECONDS`` (that write is the job's heartbeat: a job whose process stopped is
marked failed after ``STALE_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.errors import LienhopError, NotFound
from store.front import RecordStore

from .errors import TooManyRequests

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
TaskState = Literal["running", "done", "failed"]

FLUSH_SECONDS = 1.0
POLL_SECONDS = 0.5
STALE_SECONDS = 60.0
RETRY_AFTER = 30  # seconds a client refused by a full queue is told to wait
#: Kinds whose second request answers the job already waiting or running: a rebuild started
#: meanwhile would index the same store, since a reindex replays the changes made while it runs.
SINGLETON_KINDS = frozenset({"reindex"})


class TaskProgress(BaseModel):
    """Progress of one named task within a job."""

    name: str
    state: TaskState = "running"
    done: int = 0
    total: int | None = None
    message: str = ""


class JobView(BaseModel):
    """What ``GET /admin/jobs/{id}`` answers."""

    id: str
    kind: str
    state: JobState
    params: dict[str, Any] = Field(default_factory=dict)
    member: str | None = Field(None, description="The member the job is about, if one")
    created: datetime
    finished: datetime | None = None
    tasks: list[TaskProgress] = Field(default_factory=list)
    result: Any = None
    error: str | None = None


class Job:
    """A job of this process; also the progress sink its work reports to."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.pk: int = row["id"]
        self.id = f"{row['kind']}-{row['id']}"
        self.kind: str = row["kind"]
        self.params: dict[str, Any] = row["params"]
        self.member: str | None = row["member"]
        self.created: datetime = row["created"]
        self.finished: datetime | None = None
        self.state: JobState = "queued"
        self.tasks: dict[str, TaskProgress] = {}
        self.result: Any = None
        self.error: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()

    # ProgressSink
    def begin(self, task: str, total: int | None = None) -> None:
        self.tasks[task] = TaskProgress(name=task, total=total)
        self.changed.set()

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        progress = self.tasks.setdefault(task, TaskProgress(name=task))
        progress.done += n
        if total is not None:
            progress.total = total
        self.changed.set()

    def end(self, task: str, ok: bool = True, message: str = "") -> None:
        progress = self.tasks.setdefault(task, TaskProgress(name=task))
        progress.state = "done" if ok else "failed"
        progress.message = message
        if ok and progress.total is None:
            progress.total = progress.done
        self.changed.set()

    def task_rows(self) -> list[dict[str, Any]]:
        return [t.model_dump() for t in self.tasks.values()]

    def view(self) -> JobView:
        """A snapshot of the job for the API."""
        return JobView(
            id=self.id,
            kind=self.kind,
            state=self.state,
            params=self.params,
            member=self.member,
            created=self.created,
            finished=self.finished,
            tasks=[t.model_copy() for t in self.tasks.values()],
            result=self.result,
            error=self.error,
        )


def view_of(row: dict[str, Any]) -> JobView:
    """A stored job as the API shows it."""
    return JobView(
        id=f"{row['kind']}-{row['id']}",
        kind=row["kind"],
        state=row["state"],
        params=row["params"] or {},
        member=row["member"],
        created=row["created"],
        finished=row["finished"],
        tasks=[TaskProgress.model_validate(t) for t in row["tasks"] or []],
        result=row["result"],
        error=row["error"],
    )


Work = Callable[[Job], Awaitable[Any]]


class JobRegistry:
    """Admits, runs and shows jobs; the store holds them, this process runs those it admitted."""

    def __init__(self, store: RecordStore, queue: int = 4) -> None:
        self.store = store
        self.queue = queue
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._local: dict[str, Job] = {}

    async def start(
        self,
        kind: str,
        work: Work,
        params: dict[str, Any] | None = None,
        *,
        member: str | None = None,
        who: str = "",
    ) -> JobView:
        """Admit ``work(job)`` into its kind's queue and run it when its turn comes.

        A reindex asked while another is waiting or running answers that one. :class:`TooManyRequests`
        when the kind's queue is full.
        """
        row, admitted = await self.store.admit_job(
            kind,
            params or {},
            member,
            who,
            self.owner,
            limit=self.queue,
            dedupe=kind in SINGLETON_KINDS,
            stale_after=STALE_SECONDS,
        )
        if row is None:
            raise self._full(kind)
        if not admitted:
            return await self.get(f"{row['kind']}-{row['id']}")
        job = Job(row)
        self._local[job.id] = job
        job.task = asyncio.create_task(self._run(job, work), name=f"lienhop-job-{job.id}")
        return job.view()

    async def active(self, kind: str) -> list[JobView]:
        """The jobs of ``kind`` waiting or running in any process (a job whose process stopped is
        failed first, so it holds nothing back)."""
        return [view_of(row) for row in await self.store.active_jobs(kind, STALE_SECONDS)]

    async def check_room(self, kind: str) -> None:
        """:class:`TooManyRequests` now when the kind's queue is full (before receiving an upload)."""
        if await self.store.count_active_jobs(kind) >= self.queue:
            raise self._full(kind)

    def _full(self, kind: str) -> TooManyRequests:
        return TooManyRequests(
            f"{self.queue} {kind} jobs are already waiting or running; try again later", RETRY_AFTER
        )

    async def _run(self, job: Job, work: Work) -> None:
        flusher: asyncio.Task[None] | None = None
        try:
            while not await self.store.claim_job(job.kind, job.pk, STALE_SECONDS):
                await self.store.update_job(job.pk)  # heartbeat while waiting
                await asyncio.sleep(POLL_SECONDS)
            job.state = "running"
            flusher = asyncio.create_task(self._flush(job))
            job.result = await work(job)
            job.state = "done"
        except asyncio.CancelledError:
            job.state = "cancelled"
            job.error = "the server stopped"
        except LienhopError as exc:
            job.state, job.error = "failed", exc.detail
        except Exception as exc:  # a job must never die silently: keep the reason for the API
            log.exception("job %s failed", job.id)
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            if flusher is not None:
                flusher.cancel()
                await asyncio.gather(flusher, return_exceptions=True)
            await self._finish(job)

    async def _finish(self, job: Job) -> None:
        try:
            await asyncio.shield(
                self.store.finish_job(
                    job.kind,
                    job.pk,
                    state=job.state,
                    result=_json_safe(job.result),
                    error=job.error,
                    tasks=job.task_rows(),
                )
            )
        except Exception:
            log.exception("could not record the end of job %s", job.id)
        finally:
            job.finished = datetime.now(UTC)
            self._local.pop(job.id, None)

    async def _flush(self, job: Job) -> None:
        """Write the job's progress now and then; each write is also its heartbeat."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(job.changed.wait(), FLUSH_SECONDS * 5)
            job.changed.clear()
            try:
                await self.store.update_job(job.pk, state=job.state, tasks=job.task_rows())
            except Exception:
                log.exception("could not record the progress of job %s", job.id)
            await asyncio.sleep(FLUSH_SECONDS)

    async def get(self, job_id: str) -> JobView:
        """One job by id (``reindex-12``): live from this process when it runs here, else stored."""
        local = self._local.get(job_id)
        if local is not None:
            return local.view()
        kind, _, number = job_id.rpartition("-")
        row = await self.store.get_job(int(number)) if _job_number(number) else None
        if row is None or row["kind"] != kind:
            raise NotFound(f"no job {job_id!r}")
        return view_of(row)

    async def list(self, member: str | None = None, limit: int = 100) -> list[JobView]:
        """Jobs of every process, newest first (those running here with their live progress)."""
        views = []
        for row in await self.store.list_jobs(limit, member):
            local = self._local.get(f"{row['kind']}-{row['id']}")
            views.append(local.view() if local is not None else view_of(row))
        return views

    async def close(self) -> None:
        """Cancel the jobs of this process (the server is stopping); they are recorded as cancelled."""
        running = [j.task for j in self._local.values() if j.task and not j.task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


def _json_safe(value: Any) -> Any:
    """A job's result as the JSON column can hold it (reports are already JSON-ready dicts)."""
    import json

    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return json.loads(json.dumps(value, default=str))


def _job_number(text: str) -> bool:
    """Whether ``text`` is a job's number: ASCII digits (``str.isdigit`` also takes ``²``, which ``int``
    refuses) that fit the column."""
    return text.isascii() and text.isdigit() and len(text) < 19

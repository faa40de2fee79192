"""In-process background jobs (harvest, import, reindex) whose progress the admin API shows.

A job is an asyncio task plus a :class:`~schemas.progress.ProgressSink` that records, per named task
(a member code, ``reindex``, a file name), how many units are done out of how many.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from schemas.errors import LienhopError, NotFound

log = logging.getLogger(__name__)

JobState = Literal["running", "done", "failed", "cancelled"]
TaskState = Literal["running", "done", "failed"]


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
    created: datetime
    finished: datetime | None = None
    tasks: list[TaskProgress] = Field(default_factory=list)
    result: Any = None
    error: str | None = None


class Job:
    """A running or finished job; also the progress sink its work reports to."""

    def __init__(self, job_id: str, kind: str, params: dict[str, Any]) -> None:
        self.id = job_id
        self.kind = kind
        self.params = params
        self.created = datetime.now(UTC)
        self.finished: datetime | None = None
        self.state: JobState = "running"
        self.tasks: dict[str, TaskProgress] = {}
        self.result: Any = None
        self.error: str | None = None
        self.task: asyncio.Task[None] | None = None

    # ProgressSink
    def begin(self, task: str, total: int | None = None) -> None:
        self.tasks[task] = TaskProgress(name=task, total=total)

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        progress = self.tasks.setdefault(task, TaskProgress(name=task))
        progress.done += n
        if total is not None:
            progress.total = total

    def end(self, task: str, ok: bool = True, message: str = "") -> None:
        progress = self.tasks.setdefault(task, TaskProgress(name=task))
        progress.state = "done" if ok else "failed"
        progress.message = message
        if ok and progress.total is None:
            progress.total = progress.done

    def view(self) -> JobView:
        """A snapshot of the job for the API."""
        return JobView(
            id=self.id,
            kind=self.kind,
            state=self.state,
            params=self.params,
            created=self.created,
            finished=self.finished,
            tasks=[t.model_copy() for t in self.tasks.values()],
            result=self.result,
            error=self.error,
        )


Work = Callable[[Job], Awaitable[Any]]


class JobRegistry:
    """The jobs of this process; the newest ``keep`` finished ones stay visible."""

    def __init__(self, keep: int = 100) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._ids = itertools.count(1)
        self._keep = keep

    def start(self, kind: str, work: Work, params: dict[str, Any] | None = None) -> Job:
        """Run ``work(job)`` as a background task; its return value becomes the job's result."""
        job = Job(f"{kind}-{next(self._ids)}", kind, params or {})
        self._jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, work), name=f"lienhop-job-{job.id}")
        self._prune()
        return job

    async def _run(self, job: Job, work: Work) -> None:
        try:
            job.result = await work(job)
            job.state = "done"
        except asyncio.CancelledError:
            job.state = "cancelled"
            raise
        except LienhopError as exc:
            job.state, job.error = "failed", exc.detail
        except Exception as exc:  # a job must never die silently: keep the reason for the API
            log.exception("job %s failed", job.id)
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = datetime.now(UTC)

    def get(self, job_id: str) -> Job:
        """One job by id."""
        try:
            return self._jobs[job_id]
        except KeyError:
            raise NotFound(f"no job {job_id!r}") from None

    def list(self) -> list[Job]:
        """Every remembered job, newest first."""
        return list(reversed(self._jobs.values()))

    def _prune(self) -> None:
        finished = [j for j in self._jobs.values() if j.state != "running"]
        for job in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[job.id]

    async def close(self) -> None:
        """Cancel jobs still running (the server is stopping)."""
        running = [j.task for j in self._jobs.values() if j.task and not j.task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

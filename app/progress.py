"""Progress sinks for the terminal: rich bars on a TTY, plain lines in logs and pipes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from schemas.progress import ProgressSink


class RichProgress:
    """One rich progress bar per task (member, file, ``reindex``)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self._ids: dict[str, TaskID] = {}
        self._done: dict[str, int] = {}

    def begin(self, task: str, total: int | None = None) -> None:
        if task in self._ids:  # a resumed or restarted listing: keep the bar
            self.progress.update(self._ids[task], total=total)
            return
        self._ids[task] = self.progress.add_task(task, total=total)

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        if task not in self._ids:
            self.begin(task, total)
        self._done[task] = self._done.get(task, 0) + n
        if total is not None:
            self.progress.update(self._ids[task], advance=n, total=total)
        else:
            self.progress.update(self._ids[task], advance=n)

    def end(self, task: str, ok: bool = True, message: str = "") -> None:
        if task not in self._ids:
            self.begin(task)
        task_id = self._ids[task]
        done = max(self._done.get(task, 0), 1)
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        self.progress.update(
            task_id, description=f"{mark} {task} {message}".rstrip(), total=done, completed=done
        )
        self.progress.stop_task(task_id)


class LineProgress:
    """Plain progress lines, at most one every ``every`` seconds per task."""

    def __init__(self, console: Console, every: float = 2.0) -> None:
        self.console = console
        self.every = every
        self._done: dict[str, int] = {}
        self._total: dict[str, int | None] = {}
        self._last: dict[str, float] = {}

    def begin(self, task: str, total: int | None = None) -> None:
        self._done.setdefault(task, 0)
        self._total[task] = total
        self._last[task] = time.monotonic()
        self.console.print(f"{task}: started" + (f" ({total} expected)" if total else ""), highlight=False)

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        self._done[task] = self._done.get(task, 0) + n
        if total is not None:
            self._total[task] = total
        now = time.monotonic()
        if now - self._last.get(task, 0.0) >= self.every:
            self._last[task] = now
            of = f"/{self._total[task]}" if self._total.get(task) else ""
            self.console.print(f"{task}: {self._done[task]}{of}", highlight=False)

    def end(self, task: str, ok: bool = True, message: str = "") -> None:
        state = "done" if ok else "FAILED"
        detail = f" – {message}" if message else ""
        self.console.print(f"{task}: {state}, {self._done.get(task, 0)} processed{detail}", highlight=False)


@contextmanager
def terminal_progress(console: Console) -> Iterator[ProgressSink]:
    """Rich bars when ``console`` is a terminal, plain lines otherwise."""
    if not console.is_terminal:
        yield LineProgress(console)
        return
    bars = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    with bars:
        yield RichProgress(bars)

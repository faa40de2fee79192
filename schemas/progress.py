"""How long work (harvest, import, reindex) reports progress: to a rich bar or to an API job."""

from __future__ import annotations

from typing import Protocol


class ProgressSink(Protocol):
    """Receives progress of one or more named tasks (a member code, "reindex", a file name)."""

    def begin(self, task: str, total: int | None = None) -> None:
        """A task starts; ``total`` is the expected number of units when known."""

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        """``n`` more units of ``task`` are done; ``total`` may be learned late (completeListSize)."""

    def end(self, task: str, ok: bool = True, message: str = "") -> None:
        """A task has finished."""


class NullProgress:
    """A sink that ignores everything."""

    def begin(self, task: str, total: int | None = None) -> None:
        pass

    def advance(self, task: str, n: int = 1, total: int | None = None) -> None:
        pass

    def end(self, task: str, ok: bool = True, message: str = "") -> None:
        pass

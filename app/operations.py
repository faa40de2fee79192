"""The long-running operations the API's jobs and the CLI both run: harvest, import, reindex.

Each one leaves the search index caught up with the store when it returns, so what it brought in is
searchable at once (the server's background follower would get there too, a moment later). What a
harvest, import or rederive commits is indexed beside it, page after page, not after it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from harvesters.commits import OnCommit
from harvesters.importer import import_file as run_import
from harvesters.rederive import rederive_member
from harvesters.runner import harvest_members
from indexer.follower import IndexFollower, StartProcess
from indexer.follower_process import IndexProcess
from schemas.member import RunReport
from schemas.progress import ProgressSink
from schemas.settings import Settings

from .context import AppContext


@contextlib.asynccontextmanager
async def _indexing_beside(ctx: AppContext) -> AsyncIterator[OnCommit | None]:
    """The ``on_commit`` hook of an operation that brings records in: it wakes an index follower
    (:mod:`indexer.follower`) that indexes committed pages beside the operation, and is caught up
    with the store when the block ends. ``None`` without a search backend."""
    if ctx.indexer is None:
        yield None
        return
    async with IndexFollower(ctx.indexer.sync, _index_process_starter(ctx.settings)) as follower:
        yield follower.committed


def _index_process_starter(settings: Settings) -> StartProcess | None:
    """Starts the index follower's process (none on a single core): see :mod:`indexer.follower_process`.

    Unlike the parse workers it is started on a busy machine too: it costs no CPU the harvesting
    process would not spend itself (it reads the records from the store; nothing is sent to it), so
    it only lets the indexing have a share of the cores of its own.
    """
    if (os.cpu_count() or 1) < 2:
        return None

    def start() -> IndexProcess:
        process = IndexProcess(settings)
        process.start()
        return process

    return start


async def harvest(
    ctx: AppContext,
    codes: Sequence[str] | None,
    full: bool,
    progress: ProgressSink | None,
    reconcile: bool | None = None,
    force: bool = False,
    scheduled: bool = False,
) -> list[RunReport]:
    """Harvest members (all active ones when ``codes`` is None) and index what came in.

    ``reconcile``, ``force`` and ``scheduled``: see :func:`harvesters.runner.harvest_members`.
    """
    async with _indexing_beside(ctx) as on_commit:
        return await harvest_members(
            ctx.store,
            ctx.settings,
            codes=codes,
            full=full,
            progress=progress,
            on_commit=on_commit,
            reconcile=reconcile,
            force=force,
            scheduled=scheduled,
        )


async def import_file(ctx: AppContext, code: str, path: Path, progress: ProgressSink | None) -> RunReport:
    """Import a MARC file for a member and index it."""
    async with _indexing_beside(ctx) as on_commit:
        return await run_import(ctx.store, code, path, progress=progress, on_commit=on_commit)


async def rederive(
    ctx: AppContext, codes: Sequence[str] | None, progress: ProgressSink | None
) -> list[RunReport]:
    """Map the stored records of members (all when ``codes`` is None) again from their kept
    metadata, store those that changed and index them (see :mod:`harvesters.rederive`)."""
    if codes is None:
        codes = [m.code for m in await ctx.store.list_members()]
    else:
        codes = [(await ctx.store.get_member(code)).code for code in codes]  # unknown: NotFound first
    async with _indexing_beside(ctx) as on_commit:
        reports = [await rederive_member(ctx.store, code, progress, on_commit) for code in codes]
        await ctx.store.recluster_all(progress)  # the works from the store alone, as a rebuild should
    return reports


async def reindex(ctx: AppContext, progress: ProgressSink | None) -> dict[str, Any]:
    """Re-cluster the works from the store alone (curators' overrides kept), then rebuild the search
    index from them and swap it in."""
    ctx.require_search()
    assert ctx.indexer is not None
    await ctx.store.recluster_all(progress)
    report = await ctx.indexer.reindex(progress=progress)
    return dataclasses.asdict(report)

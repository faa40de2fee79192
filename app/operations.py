"""The long-running operations the API's jobs and the CLI both run: harvest, import, reindex.

Each one leaves the search index caught up with the store when it returns, so what it brought in is
searchable at once (the server's background follower would get there too, a moment later).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harvesters.commits import OnCommit
from harvesters.importer import import_file as run_import
from harvesters.rederive import rederive_member
from harvesters.runner import harvest_members
from schemas.member import RunReport
from schemas.progress import ProgressSink

from .context import AppContext

log = logging.getLogger(__name__)


def _on_commit(ctx: AppContext) -> OnCommit:
    """A callback indexing each committed page; an indexing failure must not fail the harvest."""

    async def sync() -> None:
        try:
            await ctx.sync_index()
        except Exception:
            log.exception("indexing after a committed page failed; the follower will retry")

    return sync


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
    reports = await harvest_members(
        ctx.store,
        ctx.settings,
        codes=codes,
        full=full,
        progress=progress,
        on_commit=_on_commit(ctx),
        reconcile=reconcile,
        force=force,
        scheduled=scheduled,
    )
    await ctx.sync_index()
    return reports


async def import_file(ctx: AppContext, code: str, path: Path, progress: ProgressSink | None) -> RunReport:
    """Import a MARC file for a member and index it."""
    report = await run_import(ctx.store, code, path, progress=progress, on_commit=_on_commit(ctx))
    await ctx.sync_index()
    return report


async def rederive(
    ctx: AppContext, codes: Sequence[str] | None, progress: ProgressSink | None
) -> list[RunReport]:
    """Map the stored records of members (all when ``codes`` is None) again from their kept
    metadata, store those that changed and index them (see :mod:`harvesters.rederive`)."""
    if codes is None:
        codes = [m.code for m in await ctx.store.list_members()]
    else:
        codes = [(await ctx.store.get_member(code)).code for code in codes]  # unknown: NotFound first
    reports = [await rederive_member(ctx.store, code, progress, _on_commit(ctx)) for code in codes]
    await ctx.store.recluster_all(progress)  # the works from the store alone, as a rebuild should
    await ctx.sync_index()
    return reports


async def reindex(ctx: AppContext, progress: ProgressSink | None) -> dict[str, Any]:
    """Re-cluster the works from the store alone (curators' overrides kept), then rebuild the search
    index from them and swap it in."""
    ctx.require_search()
    assert ctx.indexer is not None
    await ctx.store.recluster_all(progress)
    report = await ctx.indexer.reindex(progress=progress)
    return dataclasses.asdict(report)

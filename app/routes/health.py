"""``GET /health``: is the store reachable, how far behind the store is the search index, and which
members' harvests need a look (for monitoring: they do not make the service itself unhealthy)."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request

from ..catalog import harvest_alerts
from ..deps import ContextDep

router = APIRouter(tags=["health"])

_LAG_CAP = 10_000


@router.get("/health")
async def health(ctx: ContextDep, request: Request) -> dict[str, Any]:
    """Store and search backend status; ``lag`` is how many works changed in the store since the
    index's position (the index follows works; counted up to ``_LAG_CAP``); ``worker`` is the server
    process that answered and whether it leads (indexes and schedules)."""
    store: dict[str, Any] = {"ok": True}
    harvests: dict[str, Any] = {}
    try:
        store["max_seq"] = await ctx.store.max_seq()
        members = await ctx.store.list_members()
        store["members"] = len(members)
        harvests = await harvest_alerts(ctx.store, members)
    except Exception as exc:  # health must answer even when the database does not
        store = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    search: dict[str, Any] = {"ok": False, "backend": None}
    if ctx.backend is None:
        search["error"] = ctx.search_error
    else:
        search["backend"] = ctx.backend.name
        try:
            position = await ctx.backend.get_position()
            search.update(ok=True, documents=await ctx.backend.count(), position=position)
            if store["ok"]:
                search["lag"] = len(await ctx.store.work_changes_since(position, limit=_LAG_CAP))
        except Exception as exc:
            search["error"] = f"{type(exc).__name__}: {exc}"
    ok = store["ok"] and search["ok"]
    leadership = getattr(request.app.state, "leadership", None)
    worker = {"pid": os.getpid(), "leader": bool(leadership and leadership.is_leader)}
    return {
        "status": "ok" if ok else "degraded",
        "store": store,
        "search": search,
        "harvests": harvests,
        "worker": worker,
    }

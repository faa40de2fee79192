"""Members of the consortium: list, status report, harvest runs, quarantined records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from schemas.member import MemberStatusReport, RunReport
from schemas.record import QuarantinedItem

from ..catalog import member_status, member_statuses
from ..deps import StoreDep
from ..openapi import problems

router = APIRouter(prefix="/members", tags=["members"])


@router.get("")
async def list_members(store: StoreDep) -> list[MemberStatusReport]:
    """Every member with its record counts and last harvest."""
    return await member_statuses(store)


@router.get("/{code}", responses=problems(404))
async def show_member(code: str, store: StoreDep) -> MemberStatusReport:
    """One member's status: the same JSON as ``lienhop members show CODE --json``."""
    return await member_status(store, code)


@router.get("/{code}/runs", responses=problems(404))
async def member_runs(
    code: str, store: StoreDep, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> list[RunReport]:
    """The member's latest harvest and import runs, newest first."""
    member = await store.get_member(code)
    return await store.list_runs(member.code, limit=limit)


@router.get("/{code}/quarantine", responses=problems(404))
async def member_quarantine(
    code: str, store: StoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[QuarantinedItem]:
    """Records of the member that could not be read, with the reason."""
    member = await store.get_member(code)
    return await store.list_quarantine(member.code, limit=limit)

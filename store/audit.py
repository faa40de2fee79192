"""The audit log of admin actions (the ``audit_log`` table): who did what, when, with what outcome."""

from __future__ import annotations

from sqlalchemy import insert, select

from schemas.auth import AuditEntry, Outcome, Principal

from .common import Tables, aware, utcnow
from .tables import audit_log


class AuditTables(Tables):
    """The ``audit_log`` table."""

    async def audit(
        self,
        who: Principal | str,
        action: str,
        outcome: Outcome,
        status: int,
        detail: str = "",
        client: str = "",
    ) -> None:
        """Write one entry (its own transaction: the entry stays even when the action failed)."""
        name = who if isinstance(who, str) else who.who
        key_id = None if isinstance(who, str) else who.key_id
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(audit_log).values(
                    at=utcnow(),
                    who=name[:200],
                    key_id=key_id,
                    action=action[:500],
                    outcome=outcome,
                    status=status,
                    detail=detail[:2000],
                    client=client[:64],
                )
            )

    async def list_audit(self, limit: int = 100, before: int | None = None) -> list[AuditEntry]:
        """Entries newest first; ``before`` (an entry id) pages back."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(audit_log.c.id < before)
        async with self.engine.connect() as conn:
            return [
                AuditEntry.model_validate({**r._mapping, "at": aware(r._mapping["at"])})
                for r in await conn.execute(query)
            ]

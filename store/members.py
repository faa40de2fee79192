"""Members and what their repositories say about themselves (the ``members`` table)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError

from schemas.errors import MemberExists, NotFound
from schemas.member import STORED, Member, MemberCreate

from .common import Tables, aware, utcnow
from .runs import put_state
from .tables import members

# the columns of ``members`` that make a Member (``repository`` is read by ``repository_info``)
_MEMBER_FIELDS = (
    "code",
    "name_vi",
    "name_en",
    "status",
    "observer_since",
    "joined",
    "oai_url",
    "metadata_prefix",
    "sets",
    "opac_url_template",
    "contact",
    "active",
    "harvest_schedule",
    "origins",
    "created",
)


class MemberTables(Tables):
    """The ``members`` table."""

    async def add_member(self, new: MemberCreate) -> Member:
        """Register a member; a duplicate code raises :class:`MemberExists`."""
        taken = MemberExists(f"member {new.code} is already registered")
        try:
            async with self.engine.begin() as conn:
                if await conn.scalar(select(members.c.code).where(members.c.code == new.code)):
                    raise taken
                values = new.model_dump()
                values["created"] = utcnow()
                await conn.execute(insert(members).values(**values))
        except IntegrityError as exc:
            # another process added the same code between the check and the insert: the same answer
            raise taken from exc
        return await self.get_member(new.code)

    async def update_member(self, code: str, relist: bool = False, **changes: Any) -> Member:
        """Change some fields of a member (validated through the schema).

        ``relist`` also forgets the member's harvest position (checkpoint and high-water mark) in the
        same transaction, so that its next harvest lists the whole repository again: what a new
        OAI-PMH URL, metadata prefix or set list needs.
        """
        current = await self.get_member(code)
        merged = MemberCreate.model_validate({**current.model_dump(), **changes})
        values = merged.model_dump(exclude={"code"})
        async with self.engine.begin() as conn:
            await conn.execute(update(members).where(members.c.code == current.code).values(**values))
            if relist:
                await put_state(conn, current.code, None, None)
        return await self.get_member(code)

    async def set_repository_info(self, code: str, info: dict[str, Any]) -> None:
        """Keep the member's last Identify answer (granularity, earliest datestamp, deletion policy)."""
        async with self.engine.begin() as conn:
            await conn.execute(update(members).where(members.c.code == code).values(repository=info))

    async def repository_info(self, code: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            info: dict[str, Any] | None = await conn.scalar(
                select(members.c.repository).where(members.c.code == code)
            )
            return info

    async def get_member(self, code: str) -> Member:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(members).where(members.c.code == code.upper()))).first()
        if row is None:
            raise NotFound(f"no member with code {code!r}")
        return member_from_row(row._mapping)

    async def list_members(self, active_only: bool = False) -> list[Member]:
        query = select(members).order_by(members.c.code)
        if active_only:
            query = query.where(members.c.active.is_(True))
        async with self.engine.connect() as conn:
            return [member_from_row(r._mapping) for r in await conn.execute(query)]


def member_from_row(row: RowMapping) -> Member:
    """The Member a row holding the ``members`` columns describes (also a row joined with records)."""
    member = Member.model_validate({c: row[c] for c in _MEMBER_FIELDS}, context=STORED)
    member.created = aware(member.created)
    return member

"""The shared databases the consortium subscribes to: SUSHI address, yearly costs, members' credentials.

Credentials leave this module only as :class:`Credentials` (used to build a SUSHI request; its ``repr``
hides every value) or as :class:`~schemas.usage.CredentialsPublic` (which says only what is set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from schemas.errors import NotFound
from schemas.usage import (
    CredentialsPublic,
    CredentialsSet,
    UsageCost,
    UsageDatabase,
    UsageDatabaseCreate,
    UsageDatabaseExists,
)
from store.common import Tables, aware, utcnow
from store.tables import members

from .tables import usage_costs, usage_credentials, usage_databases


@dataclass(frozen=True)
class Credentials:
    """A member's SUSHI credentials for one database, as the harvest sends them."""

    database: str
    member: str
    customer_id: str = field(repr=False)
    requestor_id: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    #: When they were last set: a month refused before that is worth asking again at once.
    updated: datetime | None = field(default=None, compare=False)

    def params(self) -> dict[str, str]:
        """The SUSHI query parameters that identify the customer."""
        params = {"customer_id": self.customer_id}
        if self.requestor_id:
            params["requestor_id"] = self.requestor_id
        if self.api_key:
            params["api_key"] = self.api_key
        return params


class UsageRegistry(Tables):
    """The ``usage_databases``, ``usage_costs`` and ``usage_credentials`` tables."""

    async def add_database(self, new: UsageDatabaseCreate, cost: UsageCost | None = None) -> UsageDatabase:
        taken = UsageDatabaseExists(f"shared database {new.code} is already registered")
        try:
            async with self.engine.begin() as conn:
                if await conn.scalar(
                    select(usage_databases.c.code).where(usage_databases.c.code == new.code)
                ):
                    raise taken
                await conn.execute(insert(usage_databases).values(**new.model_dump(), created=utcnow()))
                if cost is not None:
                    await conn.execute(insert(usage_costs).values(database=new.code, **_cost_values(cost)))
        except IntegrityError as exc:
            raise taken from exc
        return await self.get_database(new.code)

    async def get_database(self, code: str) -> UsageDatabase:
        found = await self.list_databases([code])
        if not found:
            raise NotFound(f"no shared database with code {code!r}")
        return found[0]

    async def list_databases(self, codes: list[str] | None = None) -> list[UsageDatabase]:
        query = select(usage_databases).order_by(usage_databases.c.code)
        if codes:
            query = query.where(usage_databases.c.code.in_([c.upper() for c in codes]))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            chosen = [r["code"] for r in rows]
            costs = (
                await conn.execute(
                    select(usage_costs).where(usage_costs.c.database.in_(chosen)).order_by(usage_costs.c.year)
                )
            ).mappings()
            who = await conn.execute(
                select(usage_credentials.c.database, usage_credentials.c.member)
                .where(usage_credentials.c.database.in_(chosen))
                .order_by(usage_credentials.c.member)
            )
            by_db: dict[str, list[UsageCost]] = {}
            for c in costs:
                by_db.setdefault(c["database"], []).append(
                    UsageCost(year=c["year"], amount=Decimal(c["amount"]), currency=c["currency"])
                )
            members_of: dict[str, list[str]] = {}
            for database, member in who:
                members_of.setdefault(database, []).append(member)
        if codes and (missing := {c.upper() for c in codes} - set(chosen)):
            raise NotFound(f"no shared database with code {', '.join(sorted(missing))}")
        return [
            UsageDatabase(
                code=r["code"], name=r["name"], sushi_url=r["sushi_url"], release=r["release"],
                reports=r["reports"], created=aware(r["created"]), costs=by_db.get(r["code"], []),
                members=members_of.get(r["code"], []),
            )
            for r in rows
        ]  # fmt: skip

    async def set_cost(self, code: str, cost: UsageCost) -> UsageDatabase:
        """Set the subscription cost of one year (one cost per year: a second call replaces it)."""
        database = await self.get_database(code)
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(usage_costs).where(
                    usage_costs.c.database == database.code, usage_costs.c.year == cost.year
                )
            )
            await conn.execute(insert(usage_costs).values(database=database.code, **_cost_values(cost)))
        return await self.get_database(code)

    async def set_credentials(self, code: str, member: str, given: CredentialsSet) -> CredentialsPublic:
        database = await self.get_database(code)
        member = member.upper()
        values = {
            "customer_id": given.customer_id.get_secret_value().strip(),
            "requestor_id": _secret(given.requestor_id),
            "api_key": _secret(given.api_key),
            "updated": utcnow(),
        }
        async with self.engine.begin() as conn:
            if not await conn.scalar(select(members.c.code).where(members.c.code == member)):
                raise NotFound(f"no member with code {member!r}")
            where = (usage_credentials.c.database == database.code, usage_credentials.c.member == member)
            changed = await conn.execute(update(usage_credentials).where(*where).values(**values))
            if not changed.rowcount:
                await conn.execute(
                    insert(usage_credentials).values(database=database.code, member=member, **values)
                )
        return next(c for c in await self.list_credentials(code) if c.member == member)

    async def list_credentials(self, code: str) -> list[CredentialsPublic]:
        return [
            CredentialsPublic(
                database=c.database, member=c.member, has_requestor_id=bool(c.requestor_id),
                has_api_key=bool(c.api_key), updated=c.updated,
            )
            for c in await self.credentials(code)
        ]  # fmt: skip

    async def credentials(self, code: str) -> list[Credentials]:
        """Every member's credentials for one database, for the harvest."""
        database = await self.get_database(code)
        c = usage_credentials.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(c.member, c.customer_id, c.requestor_id, c.api_key, c.updated)
                .where(c.database == database.code)
                .order_by(c.member)
            )
            return [
                Credentials(
                    database.code, r.member, r.customer_id, r.requestor_id, r.api_key, aware(r.updated)
                )
                for r in rows
            ]


def _secret(value: object) -> str | None:
    text = value.get_secret_value().strip() if value is not None else ""  # type: ignore[attr-defined]
    return text or None


def _cost_values(cost: UsageCost) -> dict[str, object]:
    return {"year": cost.year, "amount": str(cost.amount), "currency": cost.currency}

"""API keys (the ``api_keys`` table): only a hash of each key is kept, so a copy of the store leaks none."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime

from sqlalchemy import RowMapping, insert, or_, select, update

from schemas.auth import KEY_PREFIX, ApiKey, KeyCreate
from schemas.errors import NotFound

from .common import aware, utcnow
from .members import MemberTables
from .tables import api_keys


def new_key() -> str:
    """A fresh key: the prefix and 32 random bytes, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """What the store keeps of a key. Keys are random, so a fast hash is as strong as a slow one."""
    return hashlib.sha256(key.encode()).hexdigest()


class KeyTables(MemberTables):
    """The ``api_keys`` table."""

    async def add_key(self, new: KeyCreate) -> tuple[ApiKey, str]:
        """Make a key; the key itself is returned once, here, and never stored."""
        if new.member:
            new.member = (await self.get_member(new.member)).code
        key = new_key()
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(api_keys).values(
                    label=new.label,
                    scope=new.scope,
                    member=new.member,
                    hash=hash_key(key),
                    created=utcnow(),
                    expires=new.expires,
                )
            )
            inserted = result.inserted_primary_key
            assert inserted is not None
        return await self.get_key(int(inserted[0])), key

    async def get_key(self, key_id: int) -> ApiKey:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        if row is None:
            raise NotFound(f"no key {key_id}")
        return _key(row._mapping)

    async def list_keys(self) -> list[ApiKey]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(api_keys).order_by(api_keys.c.id))
            return [_key(r._mapping) for r in rows]

    async def revoke_key(self, key_id: int) -> ApiKey:
        """Refuse the key from now on (a revoked key stays listed, with when)."""
        await self.get_key(key_id)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked.is_(None))
                .values(revoked=utcnow())
            )
        return await self.get_key(key_id)

    async def find_key(self, key: str) -> ApiKey | None:
        """The key's entry when it is one of ours, whatever its state (revoked, expired)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.hash == hash_key(key)))).first()
        return _key(row._mapping) if row else None

    async def touch_key(self, key_id: int, when: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used=when))

    async def has_admin_key(self, today: date) -> bool:
        """Whether some admin key is usable today (``lienhop serve`` on a public address needs one)."""
        query = select(api_keys.c.id).where(
            api_keys.c.scope == "admin",
            api_keys.c.revoked.is_(None),
            or_(api_keys.c.expires.is_(None), api_keys.c.expires >= today),
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query.limit(1))).first() is not None


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(
        id=row["id"],
        label=row["label"],
        scope=row["scope"],
        member=row["member"],
        created=aware(row["created"]),
        expires=row["expires"],
        revoked=aware(row["revoked"]),
        last_used=aware(row["last_used"]),
    )

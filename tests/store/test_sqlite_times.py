"""Times in an existing SQLite store: rows written by earlier versions and by this one sort together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from store.tables import UTCDateTime


def test_sqlite_times_are_written_as_sqlalchemy_writes_them() -> None:
    """The text is SQLAlchemy's own, so a store written before the UTC type compares and sorts with rows
    written after it; any zone is converted to UTC first (16:30+07:00 is stored as 09:30)."""
    dialect = sqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    hanoi = timezone(timedelta(hours=7))
    for value in (datetime(2024, 5, 10, 9, 30), datetime(999, 12, 31, 23, 59, 59, 999999), datetime(2, 1, 1)):
        assert ours(value) == ours(value.replace(tzinfo=UTC)) == theirs(value)
        assert ours(value.replace(tzinfo=UTC).astimezone(hanoi)) == theirs(value)

"""The usage tables, on the store's MetaData (migration ``store/migrations/versions/0006_usage.py``).

``usage_items`` keeps every row of every report as the vendor sent it (title, identifiers, attributes);
``usage_totals`` keeps their monthly sums per metric, written in the same transaction, so reports read
a few thousand rows however many millions of items were loaded.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Date, ForeignKey, Index, Integer, String, Table, Text

from store.tables import PK, UTCDateTime, metadata

usage_databases = Table(
    "usage_databases",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("sushi_url", Text, nullable=False),
    Column("release", String(8), nullable=False, default="5"),
    Column("reports", JSON, nullable=False),
    Column("created", UTCDateTime()),
)

usage_costs = Table(
    "usage_costs",
    metadata,
    Column("database", String(32), ForeignKey("usage_databases.code"), primary_key=True),
    Column("year", Integer, primary_key=True),
    # a decimal written as text: exact on every database, and SQLite has no decimal type
    Column("amount", String(40), nullable=False),
    Column("currency", String(3), nullable=False),
)

usage_credentials = Table(
    "usage_credentials",
    metadata,
    Column("database", String(32), ForeignKey("usage_databases.code"), primary_key=True),
    Column("member", String(32), ForeignKey("members.code"), primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("requestor_id", Text),
    Column("api_key", Text),
    Column("updated", UTCDateTime()),
)

usage_items = Table(
    "usage_items",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("database", String(32), nullable=False),
    Column("member", String(32), nullable=False),
    Column("report_id", String(16), nullable=False),
    Column("month", Date, nullable=False),
    Column("metric", String(48), nullable=False),
    Column("access_method", String(16), nullable=False, default=""),
    Column("title", Text),
    Column("item_ids", JSON),
    Column("attributes", JSON),
    Column("count", BigInteger, nullable=False),
    # the replaced month's rows are found by its first four columns; the rest lets a GROUP BY over
    # every row (rebuild_totals) read the index in order instead of sorting the table
    Index(
        "ix_usage_items_month", "database", "member", "report_id", "month", "metric", "access_method", "count"
    ),
)

usage_totals = Table(
    "usage_totals",
    metadata,
    Column("database", String(32), primary_key=True),
    Column("member", String(32), primary_key=True),
    Column("report_id", String(16), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("metric", String(48), primary_key=True),
    Column("access_method", String(16), primary_key=True, default=""),
    Column("total", BigInteger, nullable=False),
)

usage_harvests = Table(
    "usage_harvests",
    metadata,
    Column("database", String(32), primary_key=True),
    Column("member", String(32), primary_key=True),
    Column("report_id", String(16), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("code", Integer),
    Column("message", Text, nullable=False, default=""),
    Column("rows", Integer, nullable=False, default=0),
    Column("attempts", Integer, nullable=False, default=0),
    Column("source", String(8), nullable=False, default="sushi"),
    Column("updated", UTCDateTime()),
)

# ------------------------------------------------------------------ Lienhop's own usage (usage/events.py)

#: One counted use of Lienhop, after COUNTER's filters (robots out, double clicks once). No address, no
#: user agent: ``unit`` is a hash of a session (which rotates daily with a salt never stored) and the
#: item, kept only so that unique items per session can be counted.
own_events = Table(
    "own_usage_events",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("month", Date, nullable=False, comment="First day of the event's month (UTC)"),
    Column("kind", String(12), nullable=False, comment="search | lookup | view | request"),
    Column("source", String(8), nullable=False, comment="page | widget | api"),
    Column("member", String(32), comment="The requesting member, when known"),
    Column("holder", String(32), comment="The member holding the record viewed or linked to"),
    Column("item", String(120), comment="Record or work id (views, requests)"),
    Column("unit", String(16), nullable=False, comment="Hash of session and item, for unique counts"),
    Index("ix_own_usage_month_member", "month", "member"),
    Index("ix_own_usage_month_holder", "month", "holder"),
)

#: The events summed per month, written with them (usage/events.py): reports read these, so they take
#: the same time however many events there are. ``first_looks`` counts the events that were a session's
#: first view or request of their item, ``first_requests`` its first request: the unique counts.
#: Unknown members are '' (a primary key column cannot be NULL).
own_monthly = Table(
    "own_usage_monthly",
    metadata,
    Column("month", Date, primary_key=True),
    Column("member", String(32), primary_key=True, default=""),
    Column("holder", String(32), primary_key=True, default=""),
    Column("kind", String(12), primary_key=True),
    Column("source", String(8), primary_key=True),
    Column("events", BigInteger, nullable=False),
    Column("first_looks", BigInteger, nullable=False),
    Column("first_requests", BigInteger, nullable=False),
)

"""Table definitions (SQLAlchemy Core). Alembic migrations in ``store/migrations`` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored and read back in UTC on every database.

    Without it the two databases disagree: SQLite keeps no zone (SQLAlchemy writes 16:30+07:00 as 16:30
    and reads back a naive 16:30), and asyncpg takes a naive datetime as the *client's* local time. So a
    value is converted to UTC before it is bound (a naive one is UTC, as everywhere in Lienhop) and a
    naive value read back is marked UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, one function does the conversion and writes SQLAlchemy's text for it.

        The text is SQLAlchemy's SQLite storage format (``2024-05-10 09:30:00.000000``), written by
        ``datetime.isoformat`` in C: cheaper than the dialect's own %-formatting alone (which the
        TypeDecorator wrapper would add to), and it runs about 3 times per record written.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is not UTC:
                value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            # the year is always 4 digits, so the first 26 characters are the time without "+00:00"
            return value.isoformat(" ", "microseconds")[:26]

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# Free text a member or a repository supplies (names, URLs, OAI identifiers) is TEXT: SQLite ignores a
# VARCHAR length, so a limit would only bite on PostgreSQL (migration 0003). Codes and hashes keep theirs.

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger becomes INTEGER there.
PK = BigInteger().with_variant(Integer(), "sqlite")

members = Table(
    "members",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name_vi", Text, nullable=False),
    Column("name_en", Text),
    Column("status", String(16), nullable=False, default="member"),
    Column("observer_since", Date),
    Column("joined", Date),
    Column("oai_url", Text),
    Column("metadata_prefix", String(32), nullable=False, default="oai_dc"),
    Column("sets", JSON, nullable=False, default=list),
    Column("opac_url_template", Text),
    Column("contact", Text),
    Column("active", Boolean, nullable=False, default=True),
    Column("harvest_schedule", String(16)),
    Column("origins", JSON, nullable=False, default=list, comment="Web origins of the member's OPAC pages"),
    Column("repository", JSON, comment="Last Identify answer: granularity, earliestDatestamp, deletedRecord"),
    Column("created", UTCDateTime()),
)

records = Table(
    "records",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("id", String(80), nullable=False, unique=True),
    Column("member", String(32), ForeignKey("members.code"), nullable=False),
    Column("oai_identifier", Text, nullable=False),
    Column("local_id", Text),
    Column("datestamp", UTCDateTime()),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("content_hash", String(40), nullable=False),
    Column("seq", BigInteger, nullable=False, comment="Store-wide change sequence, for the index feed"),
    Column("data", JSON, nullable=False, comment="The normalised Record without raw"),
    Column("raw_format", String(16), nullable=False),
    Column("raw", Text, nullable=False, default=""),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
    Column(
        "work_id", String(24), comment="The work the record belongs to (store/works.py); NULL for a tombstone"
    ),
    UniqueConstraint("member", "oai_identifier", name="uq_records_member_oai"),
    Index("ix_records_seq", "seq"),
    Index("ix_records_member_deleted", "member", "deleted"),
    Index("ix_records_work", "work_id"),
)

record_identifiers = Table(
    "record_identifiers",
    metadata,
    Column("record_pk", PK, ForeignKey("records.pk", ondelete="CASCADE"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("value", String(300), nullable=False),
    Index("ix_record_identifiers_lookup", "kind", "value"),
    Index("ix_record_identifiers_record", "record_pk"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("member", String(32), ForeignKey("members.code"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("started", UTCDateTime(), nullable=False),
    Column("finished", UTCDateTime()),
    Column("ok", Boolean),
    Column("pages", Integer, nullable=False, default=0),
    Column("added", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("deleted", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("quarantined", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("params", JSON, nullable=False, default=dict),
    Index("ix_runs_member_started", "member", "started"),
)

harvest_state = Table(
    "harvest_state",
    metadata,
    Column("member", String(32), ForeignKey("members.code"), primary_key=True),
    Column("in_progress", JSON, comment="Checkpoint of an unfinished harvest (token, set, high water...)"),
    Column("last_high_water", UTCDateTime(), comment="Max datestamp of the last complete harvest"),
    Column("updated", UTCDateTime()),
    Column("last_reconciled", UTCDateTime(), comment="Last comparison with ListIdentifiers"),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
    comment="Store-wide counters; writing one first serialises writers (see RecordStore.commit_page)",
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("member", String(32), ForeignKey("members.code"), nullable=False),
    Column("fingerprint", String(40), nullable=False, unique=True),
    Column("run_id", BigInteger),
    Column("oai_identifier", Text),
    Column("offset", BigInteger),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False, default=""),
    Column("created", UTCDateTime(), nullable=False),
    Index("ix_quarantine_member", "member"),
)

# ------------------------------------------------------------------------------ works (store/works.py)

works = Table(
    "works",
    metadata,
    Column("id", String(24), primary_key=True),
    Column(
        "ord",
        BigInteger,
        nullable=False,
        unique=True,
        comment="Creation order: the oldest work has the least",
    ),
    Column(
        "seq",
        BigInteger,
        nullable=False,
        comment="Change number of the work's last change (records' sequence)",
    ),
    Column("alive", Boolean, nullable=False, default=True),
    Column("merged_into", String(24), comment="A work merged into another redirects to it"),
    Index("ix_works_seq", "seq"),
    Index("ix_works_merged_into", "merged_into"),
)

# What links a live record to others beyond its ISBN/DOI/ISSN rows in ``record_identifiers``: one row
# per titled or journal record. Titles are kept as 64-bit hashes (any title indexed, compactly).
work_keys = Table(
    "work_keys",
    metadata,
    Column("record_pk", PK, ForeignKey("records.pk", ondelete="CASCADE"), primary_key=True),
    Column("title", BigInteger, comment="Hash of the folded title + subtitle, for title lookups"),
    Column("title_key", BigInteger, comment="Hash of title + first author + year; only without identifiers"),
    Column("publisher", Text, comment="Folded publisher (a title link needs it to agree when both have one)"),
    Column("journal", Boolean, nullable=False, default=False, comment="Its ISSNs link it to other journals"),
    Index("ix_work_keys_title", "title"),
    # most records carry an identifier and so no title key: the index leaves them out
    Index(
        "ix_work_keys_title_key",
        "title_key",
        sqlite_where=text("title_key IS NOT NULL"),
        postgresql_where=text("title_key IS NOT NULL"),
    ),
)

work_overrides = Table(
    "work_overrides",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column(
        "kind", String(8), nullable=False, comment="split: the record stands alone; join: link two records"
    ),
    Column("record_id", String(80), nullable=False),
    Column("other_record_id", String(80)),
    Column("created", UTCDateTime(), nullable=False),
    Index("ix_work_overrides_record", "record_id"),
    Index("ix_work_overrides_other", "other_record_id"),
)

# -- access control and jobs (migration 0007) --------------------------------------------------------

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("label", Text, nullable=False),
    Column("scope", String(16), nullable=False),
    Column("member", String(32), ForeignKey("members.code")),
    Column("hash", String(64), nullable=False, unique=True, comment="SHA-256 of the key, not the key"),
    Column("created", UTCDateTime(), nullable=False),
    Column("expires", Date, comment="Last day the key is accepted"),
    Column("revoked", UTCDateTime()),
    Column("last_used", UTCDateTime()),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("who", Text, nullable=False),
    Column("key_id", BigInteger),
    Column("action", Text, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", Integer, nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("client", String(64), nullable=False, default=""),
    Index("ix_audit_log_at", "at"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", PK, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False, comment="queued, running, done, failed, cancelled"),
    Column("params", JSON, nullable=False, default=dict),
    Column("member", String(32), comment="The one member a job is about, for curators' views"),
    Column("who", Text, nullable=False, default=""),
    Column("owner", String(64), nullable=False, comment="The server process running the job"),
    Column("created", UTCDateTime(), nullable=False),
    Column("started", UTCDateTime()),
    Column("finished", UTCDateTime()),
    Column("heartbeat", UTCDateTime(), nullable=False),
    Column("tasks", JSON, nullable=False, default=list),
    Column("result", JSON),
    Column("error", Text),
    Index("ix_jobs_kind_state", "kind", "state"),
)

job_slots = Table(
    "job_slots",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("job_id", BigInteger, comment="The running job of this kind; one at a time across processes"),
    comment="Updating a kind's row serialises admission and start of its jobs across server processes",
)

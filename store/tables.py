"""Table definitions (SQLAlchemy Core). Alembic migrations in ``store/migrations`` create them."""

from __future__ import annotations

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
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger becomes INTEGER there.
PK = BigInteger().with_variant(Integer(), "sqlite")

members = Table(
    "members",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name_vi", String(500), nullable=False),
    Column("name_en", String(500)),
    Column("status", String(16), nullable=False, default="member"),
    Column("observer_since", Date),
    Column("joined", Date),
    Column("oai_url", String(1000)),
    Column("metadata_prefix", String(32), nullable=False, default="oai_dc"),
    Column("sets", JSON, nullable=False, default=list),
    Column("opac_url_template", String(1000)),
    Column("contact", String(500)),
    Column("active", Boolean, nullable=False, default=True),
    Column("harvest_schedule", String(16)),
    Column("repository", JSON, comment="Last Identify answer: granularity, earliestDatestamp, deletedRecord"),
    Column("created", DateTime(timezone=True)),
)

records = Table(
    "records",
    metadata,
    Column("pk", PK, primary_key=True, autoincrement=True),
    Column("id", String(80), nullable=False, unique=True),
    Column("member", String(32), ForeignKey("members.code"), nullable=False),
    Column("oai_identifier", String(1000), nullable=False),
    Column("local_id", String(500)),
    Column("datestamp", DateTime(timezone=True)),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("content_hash", String(40), nullable=False),
    Column("seq", BigInteger, nullable=False, comment="Store-wide change sequence, for the index feed"),
    Column("data", JSON, nullable=False, comment="The normalised Record without raw"),
    Column("raw_format", String(16), nullable=False),
    Column("raw", Text, nullable=False, default=""),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    UniqueConstraint("member", "oai_identifier", name="uq_records_member_oai"),
    Index("ix_records_seq", "seq"),
    Index("ix_records_member_deleted", "member", "deleted"),
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
    Column("started", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True)),
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
    Column("last_high_water", DateTime(timezone=True), comment="Max datestamp of the last complete harvest"),
    Column("updated", DateTime(timezone=True)),
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
    Column("oai_identifier", String(1000)),
    Column("offset", BigInteger),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False, default=""),
    Column("created", DateTime(timezone=True), nullable=False),
    Index("ix_quarantine_member", "member"),
)

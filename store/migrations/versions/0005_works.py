"""works: records of the same edition clustered into works, with their link keys and curator overrides

Only the schema: the store clusters the records it already holds the first time it is opened after
this revision (``RecordStore.open`` finds live records without a work), with the clustering code of
the day rather than a copy frozen into this migration.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # a plain ADD COLUMN (no foreign key): SQLite does it in place, without copying the records table
    op.add_column(
        "records",
        sa.Column(
            "work_id",
            sa.String(length=24),
            nullable=True,
            comment="The work the record belongs to (store/works.py); NULL for a tombstone",
        ),
    )
    op.create_index("ix_records_work", "records", ["work_id"])
    op.create_table(
        "works",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column(
            "ord", sa.BigInteger(), nullable=False, comment="Creation order: the oldest work has the least"
        ),
        sa.Column(
            "seq",
            sa.BigInteger(),
            nullable=False,
            comment="Change number of the work's last change (records' sequence)",
        ),
        sa.Column("alive", sa.Boolean(), nullable=False),
        sa.Column(
            "merged_into",
            sa.String(length=24),
            nullable=True,
            comment="A work merged into another redirects to it",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ord"),
    )
    op.create_index("ix_works_seq", "works", ["seq"])
    op.create_index("ix_works_merged_into", "works", ["merged_into"])
    op.create_table(
        "work_keys",
        sa.Column("record_pk", PK, nullable=False),
        sa.Column(
            "title",
            sa.String(length=32),
            nullable=True,
            comment="Hash of the folded title + subtitle, for title lookups",
        ),
        sa.Column(
            "title_key",
            sa.String(length=32),
            nullable=True,
            comment="Hash of title + first author + year; only without identifiers",
        ),
        sa.Column(
            "publisher",
            sa.Text(),
            nullable=True,
            comment="Folded publisher (a title link needs it to agree when both have one)",
        ),
        sa.Column("journal", sa.Boolean(), nullable=False, comment="Its ISSNs link it to other journals"),
        sa.ForeignKeyConstraint(["record_pk"], ["records.pk"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("record_pk"),
    )
    op.create_index("ix_work_keys_title", "work_keys", ["title"])
    op.create_index("ix_work_keys_title_key", "work_keys", ["title_key"])
    op.create_table(
        "work_overrides",
        sa.Column("id", PK, autoincrement=True, nullable=False),
        sa.Column(
            "kind",
            sa.String(length=8),
            nullable=False,
            comment="split: the record stands alone; join: link two records",
        ),
        sa.Column("record_id", sa.String(length=80), nullable=False),
        sa.Column("other_record_id", sa.String(length=80), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_work_overrides_record", "work_overrides", ["record_id"])
    op.create_index("ix_work_overrides_other", "work_overrides", ["other_record_id"])
    op.execute("INSERT INTO counters (name, value) VALUES ('works_ord', 0)")


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name = 'works_ord'")
    op.drop_table("work_overrides")
    op.drop_table("work_keys")
    op.drop_table("works")
    op.drop_index("ix_records_work", table_name="records")
    # batch mode: older SQLite versions cannot drop a column in place
    with op.batch_alter_table("records") as batch:
        batch.drop_column("work_id")

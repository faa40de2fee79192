"""change counter: serialise writers so the change sequence follows commit order

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 17:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        comment="Store-wide counters; writing one first serialises writers (see RecordStore.commit_page)",
    )
    op.execute(
        "INSERT INTO counters (name, value) SELECT 'records_seq', COALESCE(MAX(seq), 0) FROM records"
    )


def downgrade() -> None:
    op.drop_table("counters")

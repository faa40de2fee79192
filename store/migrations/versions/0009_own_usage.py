"""own_usage_events, own_usage_monthly: Lienhop's own usage, counted by COUNTER's rules, and its sums

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "own_usage_events",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.Date(), nullable=False, comment="First day of the event's month (UTC)"),
        sa.Column("kind", sa.String(length=12), nullable=False, comment="search | lookup | view | request"),
        sa.Column("source", sa.String(length=8), nullable=False, comment="page | widget | api"),
        sa.Column("member", sa.String(length=32), nullable=True, comment="The requesting member, when known"),
        sa.Column(
            "holder", sa.String(length=32), nullable=True,
            comment="The member holding the record viewed or linked to",
        ),
        sa.Column("item", sa.String(length=120), nullable=True, comment="Record or work id (views, requests)"),
        sa.Column(
            "unit", sa.String(length=16), nullable=False, comment="Hash of session and item, for unique counts"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_own_usage_month_member", "own_usage_events", ["month", "member"])
    op.create_index("ix_own_usage_month_holder", "own_usage_events", ["month", "holder"])
    op.create_table(
        "own_usage_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("member", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("first_looks", sa.BigInteger(), nullable=False),
        sa.Column("first_requests", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("month", "member", "holder", "kind", "source"),
    )


def downgrade() -> None:
    op.drop_table("own_usage_monthly")
    op.drop_index("ix_own_usage_month_holder", table_name="own_usage_events")
    op.drop_index("ix_own_usage_month_member", table_name="own_usage_events")
    op.drop_table("own_usage_events")

"""usage: shared databases, SUSHI credentials, yearly costs, COUNTER report rows and monthly totals

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "usage_databases",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sushi_url", sa.Text(), nullable=False),
        sa.Column("release", sa.String(length=8), nullable=False),
        sa.Column("reports", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "usage_costs",
        sa.Column("database", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(["database"], ["usage_databases.code"]),
        sa.PrimaryKeyConstraint("database", "year"),
    )
    op.create_table(
        "usage_credentials",
        sa.Column("database", sa.String(length=32), nullable=False),
        sa.Column("member", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("requestor_id", sa.Text(), nullable=True),
        sa.Column("api_key", sa.Text(), nullable=True),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["database"], ["usage_databases.code"]),
        sa.ForeignKeyConstraint(["member"], ["members.code"]),
        sa.PrimaryKeyConstraint("database", "member"),
    )
    op.create_table(
        "usage_items",
        sa.Column("id", _PK, autoincrement=True, nullable=False),
        sa.Column("database", sa.String(length=32), nullable=False),
        sa.Column("member", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("access_method", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("item_ids", sa.JSON(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_usage_items_month",
        "usage_items",
        ["database", "member", "report_id", "month", "metric", "access_method", "count"],
        unique=False,
    )
    op.create_table(
        "usage_totals",
        sa.Column("database", sa.String(length=32), nullable=False),
        sa.Column("member", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=48), nullable=False),
        sa.Column("access_method", sa.String(length=16), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("database", "member", "report_id", "month", "metric", "access_method"),
    )
    op.create_table(
        "usage_harvests",
        sa.Column("database", sa.String(length=32), nullable=False),
        sa.Column("member", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("database", "member", "report_id", "month"),
    )


def downgrade() -> None:
    op.drop_table("usage_harvests")
    op.drop_table("usage_totals")
    op.drop_index("ix_usage_items_month", table_name="usage_items")
    op.drop_table("usage_items")
    op.drop_table("usage_credentials")
    op.drop_table("usage_costs")
    op.drop_table("usage_databases")

"""free text as TEXT: no length limit that only PostgreSQL enforces

SQLite ignores VARCHAR lengths, so a member name of 600 characters or an OAI identifier of 1,500 was
stored there and refused on PostgreSQL. On PostgreSQL the columns become TEXT (VARCHAR to TEXT rewrites
neither the table nor its indexes); on SQLite there is nothing to change, and a batch rebuild of the
records table would cost a copy of the whole store.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (table, column, length before, nullable)
COLUMNS = [
    ("members", "name_vi", 500, False),
    ("members", "name_en", 500, True),
    ("members", "oai_url", 1000, True),
    ("members", "opac_url_template", 1000, True),
    ("members", "contact", 500, True),
    ("records", "oai_identifier", 1000, False),
    ("records", "local_id", 500, True),
    ("quarantine", "oai_identifier", 1000, True),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length, nullable in COLUMNS:
        op.alter_column(
            table, column, type_=sa.Text(), existing_type=sa.String(length=length), existing_nullable=nullable
        )


def downgrade() -> None:
    # Fails on PostgreSQL if a longer value has been stored since: shorten it first.
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length, nullable in COLUMNS:
        op.alter_column(
            table, column, type_=sa.String(length=length), existing_type=sa.Text(), existing_nullable=nullable
        )

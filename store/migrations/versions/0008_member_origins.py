"""members.origins: the web origins of a member's OPAC pages (own usage is attributed by them)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "members",
        sa.Column(
            "origins",
            sa.JSON(),
            nullable=False,
            server_default="[]",
            comment="Web origins of the member's OPAC pages",
        ),
    )


def downgrade() -> None:
    # in place (SQLite 3.35+ and PostgreSQL): batch mode would copy and drop ``members``, which the
    # records' and runs' foreign keys refer to, and SQLite refuses that while it enforces them
    op.execute("ALTER TABLE members DROP COLUMN origins")

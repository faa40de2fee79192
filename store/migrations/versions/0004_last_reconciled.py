"""harvest_state.last_reconciled: when deletions were last reconciled with the repository's listing

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "harvest_state",
        sa.Column(
            "last_reconciled",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Last comparison with ListIdentifiers",
        ),
    )


def downgrade() -> None:
    # batch mode: older SQLite versions cannot drop a column in place
    with op.batch_alter_table("harvest_state") as batch:
        batch.drop_column("last_reconciled")

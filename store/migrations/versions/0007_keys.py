"""api_keys, audit_log, jobs and job_slots: access control, the audit trail and jobs shared by workers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 08:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("member", sa.String(32), sa.ForeignKey("members.code")),
        sa.Column("hash", sa.String(64), nullable=False, unique=True, comment="SHA-256 of the key, not the key"),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires", sa.Date(), comment="Last day the key is accepted"),
        sa.Column("revoked", sa.DateTime(timezone=True)),
        sa.Column("last_used", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("key_id", sa.BigInteger()),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "jobs",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "state", sa.String(16), nullable=False, comment="queued, running, done, failed, cancelled"
        ),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("member", sa.String(32), comment="The one member a job is about, for curators' views"),
        sa.Column("who", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False, comment="The server process running the job"),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True)),
        sa.Column("finished", sa.DateTime(timezone=True)),
        sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tasks", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON()),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_jobs_kind_state", "jobs", ["kind", "state"])
    op.create_table(
        "job_slots",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column(
            "job_id", sa.BigInteger(), comment="The running job of this kind; one at a time across processes"
        ),
        comment="Updating a kind's row serialises admission and start of its jobs across server processes",
    )


def downgrade() -> None:
    op.drop_table("job_slots")
    op.drop_index("ix_jobs_kind_state", table_name="jobs")
    op.drop_table("jobs")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("api_keys")

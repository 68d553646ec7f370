"""Background jobs (handbook uploads) kept in the database, so a job outlives a restart: one that a
stopped service left queued or running reads failed (code interrupted) instead of unknown.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),  # ingest
        sa.Column("owner", sa.Integer, nullable=False),  # the user who started it; 0: the service itself
        sa.Column("status", sa.String(16), nullable=False, index=True),  # queued, running, done, failed
        sa.Column("stage", sa.String(32), nullable=False, server_default=""),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("result", sa.Text, nullable=True),  # JSON
        sa.Column("error", sa.Text, nullable=True),  # JSON: message (German), message_en, code, status
        sa.Column("created_at", sa.DateTime, nullable=False, index=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("jobs")

"""Apps: authored and imported apps with every saved version, visibility, usage per day;
the facility's branding (name, colours, texts) as key/value settings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("origin", sa.String(16), nullable=False),  # local | imported
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("published_version", sa.Integer, nullable=True),
        sa.Column("edited", sa.Boolean, nullable=False),  # changed here since it was imported
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "app_versions",
        sa.Column("app_id", sa.String(64), sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("spec", sa.Text, nullable=False),  # JSON of the AppSpec
        sa.Column("saved_by", sa.String(64), nullable=False),
        sa.Column("saved_at", sa.DateTime, nullable=False),
        sa.Column("note", sa.String(200), nullable=False, server_default=""),
    )
    op.create_table(
        "app_visibility",
        sa.Column("app_id", sa.String(64), primary_key=True),  # built-in apps have no row in apps
        sa.Column("enabled", sa.Boolean, nullable=False),
    )
    op.create_table(  # per facility and app, never per person
        "app_usage",
        sa.Column("app_id", sa.String(64), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("runs", sa.Integer, nullable=False),
    )


    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),  # JSON
    )


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_table("app_usage")
    op.drop_table("app_visibility")
    op.drop_table("app_versions")
    op.drop_table("apps")

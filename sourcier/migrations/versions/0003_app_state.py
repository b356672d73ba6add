"""What the app keeps between two visits, in the shared database: conversations, owners' marks and the quality
report's history and per-document cache, FALC drafts — so that any app server finds them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_turns",
        sa.Column("conversation", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("asked_at", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("services", sa.Text, nullable=False),
        sa.Column("answer", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("owner", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "quality_marks",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("marked_at", sa.Text, nullable=False),
    )
    op.create_table(
        "quality_runs", sa.Column("at", sa.Text, primary_key=True), sa.Column("counts", sa.Text, nullable=False)
    )
    op.create_table(
        "quality_cache",
        sa.Column("doc_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Text, primary_key=True),
        sa.Column("analyses", sa.Text, nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
    )
    op.create_table(
        "falc_drafts",
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("document", sa.Text, primary_key=True),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("draft", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("falc_drafts", "quality_cache", "quality_runs", "quality_marks", "conversation_turns"):
        op.drop_table(table)

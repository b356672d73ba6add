"""The ingestion manifest in the shared database: the live collection, what each file was when last ingested,
exclusions from retrieval, runs — so that every replica reads the same index state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("index_state", sa.Column("key", sa.Text, primary_key=True), sa.Column("value", sa.Text))
    op.create_table(
        "documents",
        sa.Column("collection", sa.Text, primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("doc_id", sa.Text, nullable=False),
        sa.Column("file_hash", sa.Text, nullable=False),
        sa.Column("indexed_hash", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pages", sa.Integer),
        sa.Column("title", sa.Text),
        sa.Column("format", sa.Text),
        sa.Column("service", sa.Text),
        sa.Column("doc_date", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("details", sa.Text),
    )
    op.create_table(
        "exclusions",
        sa.Column("doc_id", sa.Text, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("excluded_at", sa.Text, nullable=False),
    )
    op.create_table(
        "ingestion_runs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("collection", sa.Text, nullable=False),
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text),
        sa.Column("report", sa.Text),
    )


def downgrade() -> None:
    for table in ("ingestion_runs", "exclusions", "documents", "index_state"):
        op.drop_table(table)

"""The shared state: audit trail (append-only), feedback and unanswered questions, local accounts, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Append-only is enforced by the database: no UPDATE, no DELETE of an event younger than the retention period.
_SQLITE_TRIGGERS = [
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'journal d''audit : modification interdite'); END""",
    """CREATE TRIGGER audit_events_kept BEFORE DELETE ON audit_events
    WHEN julianday(old.at) > julianday('now') - (SELECT COALESCE(MAX(days), 36500) FROM audit_retention)
    BEGIN SELECT RAISE(ABORT, 'journal d''audit : suppression interdite avant la fin de la durée de conservation');
    END""",
]
_POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            RAISE EXCEPTION 'journal d''audit : modification interdite';
        END IF;
        IF OLD.at::timestamptz > now() - make_interval(days => (SELECT COALESCE(MAX(days), 36500) FROM audit_retention))
        THEN
            RAISE EXCEPTION 'journal d''audit : suppression interdite avant la fin de la durée de conservation';
        END IF;
        RETURN OLD;
    END $$""",
    """CREATE TRIGGER audit_events_guard BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_guard()""",
]


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Text, nullable=False),  # ISO 8601, UTC: sorts as it reads, the same in every database
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("groups", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("audit_events_at", "audit_events", ["at"])
    op.create_table("audit_retention", sa.Column("days", sa.Integer, nullable=False))
    op.create_table(
        "unanswered",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("asked_at", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("standalone_question", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("closest", sa.Text),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("given_at", sa.Text, nullable=False),
        sa.Column("rating", sa.Integer, sa.CheckConstraint("rating IN (-1, 1)"), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("cited_chunks", sa.Text, nullable=False),
        sa.Column("backend", sa.Text),
        sa.Column("model", sa.Text),
    )
    op.create_table(
        "accounts",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("groups", sa.Text, nullable=False),
        sa.Column("password", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("key_hash", sa.Text, nullable=False, unique=True),
        sa.Column("groups", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("last_used_at", sa.Text),
    )
    triggers = _POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_guard ON audit_events")
        op.execute("DROP FUNCTION audit_events_guard()")
    for table in ("api_keys", "accounts", "feedback", "unanswered", "audit_retention", "audit_events"):
        op.drop_table(table)

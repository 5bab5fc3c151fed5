"""policy suggestions: changes to the qualification policy proposed from closed leads' outcomes, with their
evidence, each accepted or rejected once (one open suggestion per change and policy version)

Revision ID: 0026_policy_suggestions
Revises: 0025_meetings
Create Date: 2026-12-01 17:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_policy_suggestions"
down_revision: str | None = "0025_meetings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_version", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("change", sa.JSON(), nullable=False),
        sa.Column("change_key", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "proposed", "accepted", "rejected", name="suggestionstatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("saved_version", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_policy_suggestions_status", "policy_suggestions", ["status"])
    proposed = sa.text("status = 'proposed'")
    op.create_index(
        "uq_policy_suggestions_open_change",
        "policy_suggestions",
        ["change_key"],
        unique=True,
        sqlite_where=proposed,
        postgresql_where=proposed,
    )


def downgrade() -> None:
    op.drop_table("policy_suggestions")

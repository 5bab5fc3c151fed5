"""tasks: an activity with a due time can be marked done; due times indexed for a rep's task list

Revision ID: 0017_task_done
Revises: 0016_lead_lists
Create Date: 2026-12-01 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_task_done"
down_revision: str | None = "0016_lead_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("done_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_activities_due_at", ["due_at"])


def downgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.drop_index("ix_activities_due_at")
        batch.drop_column("done_at")

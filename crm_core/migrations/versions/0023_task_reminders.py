"""task reminders: a task's reminder is written once (activities.reminded_at) as notifications that
name the task (notifications.activity_id)

Revision ID: 0023_task_reminders
Revises: 0022_authors
Create Date: 2026-12-01 14:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_task_reminders"
down_revision: str | None = "0022_authors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("activity_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_notifications_activity_id", "activities", ["activity_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("fk_notifications_activity_id", type_="foreignkey")
        batch.drop_column("activity_id")
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("reminded_at")

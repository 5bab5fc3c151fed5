"""ids are never reused: SQLite AUTOINCREMENT on every table whose ids leave the database

Without it SQLite hands the highest id out again after that row is deleted, so after an erasure the next
lead took the erased lead's id, and old Telegram buttons, links and webhook receivers pointed at another
person. PostgreSQL's sequences never go back: nothing to do there.

Revision ID: 0024_ids_never_reused
Revises: 0023_task_reminders
Create Date: 2026-12-01 14:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024_ids_never_reused"
down_revision: str | None = "0023_task_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the tables whose ids are shown to people or sent to other systems (crm_core.models.NEVER_REUSED)
TABLES = (
    "reps", "contacts", "leads", "conversations", "messages", "deals", "activities", "notifications",
    "webhook_outbox", "users", "erasures",
)  # fmt: skip


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:  # foreign keys are off while migrating (crm_core/migrations/env.py's engine)
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)

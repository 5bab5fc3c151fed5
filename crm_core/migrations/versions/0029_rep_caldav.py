"""rep_caldav: a rep's optional CalDAV calendar (URL, user, password) and since when it cannot be read

Revision ID: 0029_rep_caldav
Revises: 0028_win_models
Create Date: 2026-12-01 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_rep_caldav"
down_revision: str | None = "0028_win_models"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reps") as batch:
        batch.add_column(sa.Column("caldav_url", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("caldav_username", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("caldav_password", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("caldav_failing_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reps") as batch:
        batch.drop_column("caldav_failing_since")
        batch.drop_column("caldav_password")
        batch.drop_column("caldav_username")
        batch.drop_column("caldav_url")

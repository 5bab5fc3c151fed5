"""brakes: one row per streak of tries (an account from one address, an address, a bearer token's
address), counted atomically before each try is checked

Revision ID: 0019_login_brakes
Revises: 0018
Create Date: 2026-12-01 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_login_brakes"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "brakes",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_brakes_window_ends_at", "brakes", ["window_ends_at"])


def downgrade() -> None:
    op.drop_index("ix_brakes_window_ends_at", table_name="brakes")
    op.drop_table("brakes")

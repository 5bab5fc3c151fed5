"""exchange rate versions; a deal's lost reason; deals outlive their lead's erasure (lead_id nullable)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_rate_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version"),
    )
    with op.batch_alter_table("deals") as batch_op:
        batch_op.add_column(sa.Column("lost_reason", sa.String(length=40), nullable=True))
        batch_op.alter_column("lead_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM deals WHERE lead_id IS NULL")
    with op.batch_alter_table("deals") as batch_op:
        batch_op.alter_column("lead_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("lost_reason")
    op.drop_table("exchange_rate_versions")

"""authors: who made each stage change, activity (and who marked a task done) and routing decision;
deal edits and deletions kept with theirs

Rows written before this revision have no author (NULL: shown as unknown).

Revision ID: 0022_authors
Revises: 0021_search_trigrams
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_authors"
down_revision: str | None = "0021_search_trigrams"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("stage_changes", "activities", "assignment_events"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("made_by", sa.String(200), nullable=True))
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("done_by", sa.String(200), nullable=True))
    op.create_table(
        "deal_edits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("lead_id", sa.Integer(), sa.ForeignKey("leads.id"), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("made_by", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_deal_edits_lead_id", "deal_edits", ["lead_id"])


def downgrade() -> None:
    op.drop_index("ix_deal_edits_lead_id", table_name="deal_edits")
    op.drop_table("deal_edits")
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("done_by")
    for table in ("stage_changes", "activities", "assignment_events"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("made_by")

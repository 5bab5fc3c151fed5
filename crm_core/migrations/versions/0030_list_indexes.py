"""list_indexes: indexes for the lead-list pages and the KPI query that missed their targets at 1 M leads

Class + temperature (+ language) by score walked ``ix_leads_score_id`` filtering every lead; one rep's
overdue leads read every one of the rep's leads; the KPI's win rate by score read every closed lead's
table row. Both dialects get all three (SQLite has partial indexes too).
The name order needs no index: on PostgreSQL it reads ``ix_contacts_name`` once ordered NULLS LAST.

Revision ID: 0030_list_indexes
Revises: 0029_rep_caldav
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_list_indexes"
down_revision: str | None = "0029_rep_caldav"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNACCEPTED = sa.text("accepted_at IS NULL")  # keep equal to models.Lead's ix_leads_rep_due


def upgrade() -> None:
    # the KPI dashboard's win rate by score band and temperature: closed leads, from the index alone
    op.create_index(
        "ix_leads_stage_created_outcome", "leads", ["stage", "created_at", "score", "temperature"]
    )
    op.create_index(
        "ix_leads_class_temp_score", "leads", ["qualification", "temperature", "score", "id", "language"]
    )
    op.create_index(
        "ix_leads_rep_due",
        "leads",
        ["assigned_rep_id", "sla_due_at"],
        postgresql_where=UNACCEPTED,
        sqlite_where=UNACCEPTED,
    )


def downgrade() -> None:
    op.drop_index("ix_leads_rep_due", table_name="leads")
    op.drop_index("ix_leads_class_temp_score", table_name="leads")
    op.drop_index("ix_leads_stage_created_outcome", table_name="leads")

"""lead lists and the board: indexes for the console's filters (class, temperature, source), score order,
contact names, a rep's board (rep, stage, id)

Revision ID: 0016_lead_lists
Revises: 0015
Create Date: 2026-12-01 10:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016_lead_lists"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAD_INDEXES = {
    "ix_leads_qualification_id": ["qualification", "id"],
    "ix_leads_temperature_id": ["temperature", "id"],
    "ix_leads_source_id": ["source", "id"],
    "ix_leads_score_id": ["score", "id"],
    "ix_leads_stage_temperature_id": ["stage", "temperature", "id"],  # the board's columns, narrowed
    "ix_leads_stage_qualification_id": ["stage", "qualification", "id"],
}


def upgrade() -> None:
    for name, columns in LEAD_INDEXES.items():
        op.create_index(name, "leads", columns)
    op.create_index("ix_contacts_name", "contacts", ["name"])
    # a rep's board reads each column newest first: (rep, stage) gains the id, and still counts a rep's leads
    op.create_index("ix_leads_rep_stage_id", "leads", ["assigned_rep_id", "stage", "id"])
    op.drop_index("ix_leads_rep_stage", table_name="leads")


def downgrade() -> None:
    op.create_index("ix_leads_rep_stage", "leads", ["assigned_rep_id", "stage"])
    op.drop_index("ix_leads_rep_stage_id", table_name="leads")
    op.drop_index("ix_contacts_name", table_name="contacts")
    for name in LEAD_INDEXES:
        op.drop_index(name, table_name="leads")

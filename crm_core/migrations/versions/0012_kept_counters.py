"""kept counters: reps' open leads, leads' reached stages, deals' cycle ends, daily lead tallies

Routing and the KPIs read these instead of counting or grouping whole tables; crm_core keeps them in step
in the transaction of each change. The upgrade fills them from the existing rows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.stage_bit as it is at this revision: one bit per stage, in the Stage enum's order
_BITS = ("new", "mql", "sql", "contacted", "proposal", "negotiation", "won", "lost")
_BIT_OF = (
    "CASE to_stage " + " ".join(f"WHEN '{s}' THEN {1 << i}" for i, s in enumerate(_BITS)) + " ELSE 0 END"
)


def upgrade() -> None:
    op.add_column("reps", sa.Column("open_leads", sa.Integer(), server_default="0", nullable=False))
    op.add_column("leads", sa.Column("reached_stages", sa.Integer(), server_default="0", nullable=False))
    op.add_column("deals", sa.Column("first_stage_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("deals", sa.Column("won_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("deals") as batch_op:
        batch_op.add_column(sa.Column("lead_source", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("lead_rep_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lead_created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key("fk_deals_lead_rep_id_reps", "reps", ["lead_rep_id"], ["id"])
    op.create_table(
        "lead_tallies",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("reached_stages", sa.Integer(), nullable=False),
        sa.Column("won", sa.Boolean(), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "source", "reached_stages", "won"),
    )
    # Backfill. A sum of distinct powers of two is their bitwise or (SQLite has no bit_or aggregate).
    op.execute(
        "UPDATE reps SET open_leads = (SELECT count(*) FROM leads WHERE leads.assigned_rep_id = reps.id "
        "AND leads.stage NOT IN ('won', 'lost'))"
    )
    op.execute(
        "UPDATE leads SET reached_stages = history.bits FROM (SELECT lead_id, sum(DISTINCT "
        f"{_BIT_OF}) AS bits FROM stage_changes WHERE deal_id IS NULL GROUP BY lead_id) AS history "
        "WHERE history.lead_id = leads.id"
    )
    op.execute(
        "UPDATE deals SET first_stage_at = history.first_at, won_at = history.won_at FROM (SELECT deal_id, "
        "min(changed_at) AS first_at, max(CASE WHEN to_stage = 'won' THEN changed_at END) AS won_at "
        "FROM stage_changes WHERE deal_id IS NOT NULL GROUP BY deal_id) AS history "
        "WHERE history.deal_id = deals.id"
    )
    op.execute(
        "UPDATE deals SET lead_source = leads.source, lead_rep_id = leads.assigned_rep_id, "
        "lead_created_at = leads.created_at FROM leads WHERE leads.id = deals.lead_id"
    )
    day = (
        "CAST(created_at AT TIME ZONE 'UTC' AS DATE)"
        if op.get_bind().dialect.name == "postgresql"
        else "date(created_at)"
    )
    op.execute(
        "INSERT INTO lead_tallies (day, source, reached_stages, won, leads) "
        f"SELECT {day}, coalesce(source, 'unknown'), reached_stages, stage = 'won', count(*) FROM leads "
        f"GROUP BY {day}, coalesce(source, 'unknown'), reached_stages, stage = 'won'"
    )


def downgrade() -> None:
    op.drop_table("lead_tallies")
    with op.batch_alter_table("deals") as batch_op:
        batch_op.drop_constraint("fk_deals_lead_rep_id_reps", type_="foreignkey")
        batch_op.drop_column("lead_created_at")
        batch_op.drop_column("lead_rep_id")
        batch_op.drop_column("lead_source")
        batch_op.drop_column("won_at")
        batch_op.drop_column("first_stage_at")
    with op.batch_alter_table("leads") as batch_op:
        batch_op.drop_column("reached_stages")
    with op.batch_alter_table("reps") as batch_op:
        batch_op.drop_column("open_leads")

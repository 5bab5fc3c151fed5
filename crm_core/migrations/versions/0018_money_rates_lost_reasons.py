"""exchange rate versions; a deal's lost reason; deals outlive their lead's erasure (lead_id nullable);
speed to lead kept on each lead, and time in stage kept by day (both filled from the history)

Revision ID: 0018
Revises: 0017_task_done
Create Date: 2026-12-01 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_core.sales.pipeline import current_pipeline

revision: str = "0018"
down_revision: str | None = "0017_task_done"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAGE = sa.Enum(
    "new", "mql", "sql", "contacted", "proposal", "negotiation", "won", "lost",
    name="stage", native_enum=False, length=20,
)  # fmt: skip


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
    with op.batch_alter_table("leads") as batch_op:
        batch_op.add_column(sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_accepted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("accepted_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_contact_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_leads_qualified_at", ["qualified_at"])
    op.create_table(
        "stage_time_tallies",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("of_deals", sa.Boolean(), nullable=False),
        sa.Column("stage", _STAGE, nullable=False),
        sa.Column("moves", sa.Integer(), nullable=False),
        sa.Column("days", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "of_deals", "stage"),
    )
    op.create_table(
        "sla_tallies",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("decided", sa.Integer(), nullable=False),
        sa.Column("met", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "rep_id"),
    )
    _fill_from_history()


def _fill_from_history() -> None:
    """What crm_core now keeps with each change, computed once from the rows already there."""
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute(
        "UPDATE leads SET qualified_at = (SELECT min(s.changed_at) FROM stage_changes s "
        "WHERE s.lead_id = leads.id AND s.deal_id IS NULL AND s.to_stage = 'sql')"
    )
    op.execute(
        "UPDATE leads SET first_accepted_at = (SELECT min(e.at) FROM assignment_events e "
        "WHERE e.lead_id = leads.id AND e.action = 'accepted' AND e.at >= leads.qualified_at) "
        "WHERE qualified_at IS NOT NULL"
    )
    op.execute(
        "UPDATE leads SET accepted_by_id = (SELECT min(e.rep_id) FROM assignment_events e "
        "WHERE e.lead_id = leads.id AND e.action = 'accepted' AND e.at = leads.first_accepted_at) "
        "WHERE first_accepted_at IS NOT NULL"
    )
    contacts = (
        "SELECT min(a.created_at) FROM activities a WHERE a.lead_id = leads.id "
        "AND a.kind IN ('call', 'email', 'meeting') AND a.created_at >= leads.qualified_at",
        "SELECT min(s.changed_at) FROM stage_changes s WHERE s.lead_id = leads.id AND s.deal_id IS NULL "
        "AND s.to_stage = 'contacted' AND s.changed_at >= leads.qualified_at",
        "SELECT min(m.sent_at) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE c.lead_id = leads.id AND m.role = 'rep' AND m.sent_at >= leads.qualified_at",
    )
    for first in contacts:
        op.execute(
            f"UPDATE leads SET first_contact_at = ({first}) WHERE qualified_at IS NOT NULL "
            f"AND ({first}) IS NOT NULL AND (first_contact_at IS NULL OR ({first}) < first_contact_at)"
        )
    days = (
        "EXTRACT(EPOCH FROM changed_at - entered_at) / 86400"
        if postgres
        else "julianday(changed_at) - julianday(entered_at)"
    )
    day = "CAST(changed_at AT TIME ZONE 'UTC' AS DATE)" if postgres else "date(changed_at)"
    op.execute(
        "INSERT INTO stage_time_tallies (day, of_deals, stage, moves, days) "
        f"SELECT {day}, of_deals, from_stage, count(*), sum({days}) FROM ("
        "SELECT changed_at, from_stage, deal_id IS NOT NULL AS of_deals, "
        "lag(changed_at) OVER (PARTITION BY lead_id, deal_id ORDER BY changed_at, id) AS entered_at "
        "FROM stage_changes) moves WHERE from_stage IS NOT NULL AND entered_at IS NOT NULL "
        f"GROUP BY {day}, of_deals, from_stage"
    )
    # an acceptance clock per hand-over to a rep who is not an admin, decided by that rep's next event
    minutes = (
        "EXTRACT(EPOCH FROM next_at - at) / 60" if postgres else "(julianday(next_at) - julianday(at)) * 1440"
    )
    handed = "CAST(at AT TIME ZONE 'UTC' AS DATE)" if postgres else "date(at)"
    accept_minutes = current_pipeline().sla.accept_minutes
    op.execute(
        "INSERT INTO sla_tallies (day, rep_id, decided, met) "
        f"SELECT {handed}, rep_id, count(*), "
        f"sum(CASE WHEN next_action = 'accepted' AND {minutes} <= {accept_minutes} THEN 1 ELSE 0 END) FROM ("
        "SELECT at, rep_id, action, lead(action) OVER w AS next_action, lead(rep_id) OVER w AS next_rep, "
        "lead(at) OVER w AS next_at FROM assignment_events WINDOW w AS (PARTITION BY lead_id ORDER BY at, id)"
        ") handovers WHERE action = 'assigned' AND next_rep = rep_id "
        "AND next_action IN ('accepted', 'passed', 'expired') "
        "AND rep_id NOT IN (SELECT id FROM reps WHERE is_admin) "
        f"GROUP BY {handed}, rep_id"
    )


def downgrade() -> None:
    op.execute("DELETE FROM deals WHERE lead_id IS NULL")
    with op.batch_alter_table("deals") as batch_op:
        batch_op.alter_column("lead_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("lost_reason")
    op.drop_table("exchange_rate_versions")
    op.drop_table("sla_tallies")
    op.drop_table("stage_time_tallies")
    with op.batch_alter_table("leads") as batch_op:
        batch_op.drop_index("ix_leads_qualified_at")
        batch_op.drop_column("first_contact_at")
        batch_op.drop_column("accepted_by_id")
        batch_op.drop_column("first_accepted_at")
        batch_op.drop_column("qualified_at")

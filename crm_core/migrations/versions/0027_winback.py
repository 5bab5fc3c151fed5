"""winback: re-check dates on lost deals (deals.recheck_on, leads.recheck_on indexed), leads won back
(leads.recycled_from_id), unsubscribes (contacts.unsubscribed_at) and the outbox of messages to contacts
(outreach)

Revision ID: 0027_winback
Revises: 0026_policy_suggestions
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_winback"
down_revision: str | None = "0026_policy_suggestions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("leads", sa.Column("recycled_from_id", sa.Integer(), nullable=True))
    op.create_index("ix_leads_recheck_on", "leads", ["recheck_on"])
    op.add_column("deals", sa.Column("recheck_on", sa.Date(), nullable=True))
    op.create_index("ix_deals_recheck_on", "deals", ["recheck_on"])
    op.create_table(
        "outreach",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("winback", "nurture", name="outreachkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("sending_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.ForeignKeyConstraint(["activity_id"], ["activities.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("token"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_outreach_lead_id", "outreach", ["lead_id"])
    op.create_index("ix_outreach_next_attempt_at", "outreach", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outreach")
    op.drop_index("ix_deals_recheck_on", "deals")
    op.drop_column("deals", "recheck_on")
    op.drop_index("ix_leads_recheck_on", "leads")
    op.drop_column("leads", "recycled_from_id")
    op.drop_column("contacts", "unsubscribed_at")

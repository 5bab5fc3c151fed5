"""meetings: a lead's meetings with its rep (one booked meeting per rep and start), the visitor's
invitations (an outbox), and notifications that tell a rep about one (notifications.meeting_id)

Revision ID: 0025_meetings
Revises: 0024_ids_never_reused
Create Date: 2026-12-01 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_meetings"
down_revision: str | None = "0024_ids_never_reused"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# notifications keeps AUTOINCREMENT when SQLite recreates it for the new column (revision 0024)
NEVER_REUSED = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("booked", "cancelled", name="meetingstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("visitor_timezone", sa.String(length=64), nullable=False),
        sa.Column("uid", sa.String(length=100), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("made_by", sa.String(length=200), nullable=True),
        sa.Column("link_token", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid"),
        sa.UniqueConstraint("link_token"),
        sqlite_autoincrement=True,
    )
    booked = sa.text("status = 'booked'")
    op.create_index(
        "uq_meetings_rep_booked_start",
        "meetings",
        ["rep_id", "starts_at"],
        unique=True,
        sqlite_where=booked,
        postgresql_where=booked,
    )
    op.create_index("ix_meetings_lead_id", "meetings", ["lead_id", "id"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"]),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_invitations_meeting_id", "invitations", ["meeting_id"])
    op.create_index("ix_invitations_next_attempt_at", "invitations", ["next_attempt_at"])
    with op.batch_alter_table("notifications", table_kwargs=NEVER_REUSED) as batch:
        batch.add_column(sa.Column("meeting_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_notifications_meeting_id", "meetings", ["meeting_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("notifications", table_kwargs=NEVER_REUSED) as batch:
        batch.drop_constraint("fk_notifications_meeting_id", type_="foreignkey")
        batch.drop_column("meeting_id")
    op.drop_table("invitations")
    op.drop_table("meetings")

"""conversation ownership (bot / waiting for a person / rep), its history, and rep-written messages

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNER = sa.Enum("bot", "waiting", "rep", name="owner", native_enum=False, length=20)


def upgrade() -> None:
    op.create_table(
        "conversation_owners",
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("owner", _OWNER, nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.id"]),
        sa.PrimaryKeyConstraint("sender_id"),
    )
    op.create_index("ix_conversation_owners_rep_id", "conversation_owners", ["rep_id"])
    op.create_table(
        "ownership_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("from_owner", _OWNER, nullable=False),
        sa.Column("to_owner", _OWNER, nullable=False),
        sa.Column("rep_id", sa.Integer(), nullable=True),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ownership_changes_sender_id", "ownership_changes", ["sender_id"])
    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(sa.Column("rep_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_messages_rep_id_reps", "reps", ["rep_id"], ["id"])
    # messages.role is a VARCHAR(20) without a CHECK constraint: the new value 'rep' needs no change.


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_constraint("fk_messages_rep_id_reps", type_="foreignkey")
        batch_op.drop_column("rep_id")
    op.drop_index("ix_ownership_changes_sender_id", table_name="ownership_changes")
    op.drop_table("ownership_changes")
    op.drop_index("ix_conversation_owners_rep_id", table_name="conversation_owners")
    op.drop_table("conversation_owners")

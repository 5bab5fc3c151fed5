"""outcome_tallies: closed leads counted by creation day, score band, temperature and won

The KPI dashboard's win rate by score band and temperature grouped every closed lead (200,000 index entries at
1 M leads, ~55 ms); it now adds up these daily rows, kept in step by ``models._keep_counters``. Filled here
from the leads already closed.

Revision ID: 0031_outcome_tallies
Revises: 0030_list_indexes
Create Date: 2026-12-02 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_outcome_tallies"
down_revision: str | None = "0030_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEMPERATURE = sa.Enum("hot", "warm", "cold", name="temperature", native_enum=False, length=20)
# models.score_band in SQL: the lowest score of the lead's 20-point band
_BAND = (
    "CASE WHEN score <= 19 THEN 0 WHEN score <= 39 THEN 20 WHEN score <= 59 THEN 40 WHEN score <= 79 THEN 60 "
    "ELSE 80 END"
)


def upgrade() -> None:
    op.create_table(
        "outcome_tallies",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("band", sa.Integer(), nullable=False),
        sa.Column("temperature", _TEMPERATURE, nullable=False),
        sa.Column("won", sa.Boolean(), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "band", "temperature", "won"),
    )
    day = (
        "CAST(created_at AT TIME ZONE 'UTC' AS DATE)"
        if op.get_bind().dialect.name == "postgresql"
        else "date(created_at)"
    )
    op.execute(
        "INSERT INTO outcome_tallies (day, band, temperature, won, leads) "
        f"SELECT {day}, {_BAND}, temperature, stage = 'won', count(*) FROM leads "
        "WHERE stage IN ('won', 'lost') "
        f"GROUP BY {day}, {_BAND}, temperature, stage = 'won'"
    )


def downgrade() -> None:
    op.drop_table("outcome_tallies")

"""lead search: trigram (pg_trgm GIN) indexes on the contact columns a search reads, PostgreSQL only

A search is ``lower(column) LIKE '%text%'``: a B-tree cannot serve a pattern that starts with ``%``, so
without these every contact is read. SQLite keeps its plain query (no index fits it there).

Revision ID: 0021_search_trigrams
Revises: 0020_notification_sending
Create Date: 2026-12-01 13:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_search_trigrams"
down_revision: str | None = "0020_notification_sending"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# index name → the expression leads.lead_page_ids searches (keep equal to models.Contact's indexes)
SEARCH_INDEXES = {
    "ix_contacts_name_trgm": "lower(name)",
    "ix_contacts_company_trgm": "lower(company)",
    "ix_contacts_email_trgm": "lower(email)",
    "ix_contacts_phone_trgm": "phone",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in SEARCH_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON contacts USING gin (({expression}) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in SEARCH_INDEXES:
        op.execute(f"DROP INDEX {name}")

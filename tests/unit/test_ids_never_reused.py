"""Ids are never handed out twice (issue 15, item 5): after an erasure the next lead, contact and
conversation get new ids, on SQLite (AUTOINCREMENT, migration 0024) as on PostgreSQL (sequences)."""

from pathlib import Path

import pytest
from sqlalchemy import text

from crm_core.db import get_engine, unit_of_work
from crm_core.models import Conversation
from crm_core.people.privacy import erase_contact
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef
from tests.unit.test_leads import HOT


def test_an_erased_lead_id_is_never_given_again(db_url: str, tmp_path: Path) -> None:
    events = f"sqlite:///{tmp_path / 'events.db'}"
    with unit_of_work(db_url) as session:
        capture_lead(
            session,
            HOT.model_copy(update={"email": "old@example.com"}),
            ConversationRef(channel="web", sender_id="old"),
        )
        newest = capture_lead(
            session,
            HOT.model_copy(update={"email": "gone@example.com"}),
            ConversationRef(channel="web", sender_id="gone"),
        )
        conversation = session.scalars(text("SELECT id FROM conversations WHERE sender_id = 'gone'")).one()
    with unit_of_work(db_url) as session:
        contact_id = session.scalars(text(f"SELECT contact_id FROM leads WHERE id = {newest.id}")).one()
        erase_contact(session, contact_id, erased_by="dpo", events_url=events)
    with unit_of_work(db_url) as session:
        after = capture_lead(
            session,
            HOT.model_copy(update={"email": "new@example.com"}),
            ConversationRef(channel="web", sender_id="new"),
        )
        assert after.id > newest.id
        assert session.get(Conversation, conversation) is None
        fresh = session.scalars(text("SELECT id FROM conversations WHERE sender_id = 'new'")).one()
        assert fresh > conversation
        contact = session.scalars(text(f"SELECT contact_id FROM leads WHERE id = {after.id}")).one()
        assert contact > contact_id


def test_sqlite_tables_whose_ids_leave_the_database_use_autoincrement(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL sequences never reuse an id")
    with get_engine(db_url).connect() as connection:
        schemas = dict(
            connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all()
        )
    for table in (
        "leads",
        "contacts",
        "deals",
        "conversations",
        "messages",
        "activities",
        "reps",
        "notifications",
    ):
        assert "AUTOINCREMENT" in schemas[table], table

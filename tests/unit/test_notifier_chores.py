"""The notifier runs the periodic chores itself: the retention purge of never-qualified visitors, and the
pickup of leads waiting in the queue."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.notify.worker import Notifier
from crm_core.chats.transcripts import sync_transcripts
from crm_core.config import get_settings
from crm_core.db import get_engine, unit_of_work
from crm_core.models import Conversation, Lead
from crm_core.people.reps import add_rep, update_rep
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef, NewRep, RepUpdate
from tests.unit.test_privacy import chat, rasa_senders
from tests.unit.test_transcript_search import SQL_FACTS
from tests.unit.test_transcripts import RasaEvents


def senders(db_url: str) -> set[str]:
    with unit_of_work(db_url) as session:
        return set(session.scalars(select(Conversation.sender_id)))


def test_the_running_notifier_purges_old_conversations_of_visitors_who_never_qualified(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = RasaEvents(tmp_path / "events.db")  # its clock is a year before today
    chat(events, "old-curious", "hello")
    chat(events, "old-buyer", "we need it now")
    with unit_of_work(db_url) as session:
        sync_transcripts(session, events.url)
        capture_lead(session, SQL_FACTS, ConversationRef(channel="rest", sender_id="old-buyer"))
        a_year_ago = datetime.fromtimestamp(events.clock, UTC) - timedelta(minutes=5)
        session.execute(update(Conversation).values(started_at=a_year_ago))  # rows are new; chats are not
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    monkeypatch.setenv("EMBUDO_EVENTS_URL", events.url)
    monkeypatch.setenv("EMBUDO_RETENTION_DAYS", "90")
    get_settings.cache_clear()
    try:
        notifier = Notifier(get_settings(), bot=None)

        async def run_until_purged() -> None:
            task = asyncio.create_task(notifier.run(interval=0.05))
            try:
                for _ in range(200):
                    if senders(db_url) == {"old-buyer"}:
                        return
                    await asyncio.sleep(0.05)
            finally:
                task.cancel()

        asyncio.run(run_until_purged())
    finally:
        get_settings.cache_clear()

    assert senders(db_url) == {"old-buyer"}
    assert rasa_senders(events) == {"old-buyer"}


def test_the_running_notifier_gives_a_queued_lead_to_a_rep_who_becomes_available(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(db_url) as session:
        ana = add_rep(session, NewRep(name="Ana", languages=["en"], capacity=0)).id
        lead_id = capture_lead(session, SQL_FACTS, ConversationRef(channel="rest", sender_id="night")).id
    with unit_of_work(db_url) as session:
        assert session.get(Lead, lead_id).assigned_rep_id is None  # type: ignore[union-attr]
        update_rep(session, ana, RepUpdate(capacity=5))  # Ana has room now
    monkeypatch.setenv("EMBUDO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    get_engine.cache_clear()  # the default engine is cached: another test's database otherwise

    def owner() -> int | None:
        with unit_of_work(db_url) as session:
            return session.scalar(select(Lead.assigned_rep_id).where(Lead.id == lead_id))

    try:
        notifier = Notifier(get_settings(), bot=None)

        async def run_until_assigned() -> None:
            task = asyncio.create_task(notifier.run(interval=0.05))
            try:
                for _ in range(200):
                    if owner() is not None:
                        return
                    await asyncio.sleep(0.05)
            finally:
                task.cancel()

        asyncio.run(run_until_assigned())
    finally:
        get_settings.cache_clear()
        get_engine.cache_clear()

    assert owner() == ana

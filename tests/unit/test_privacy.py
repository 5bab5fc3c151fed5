"""Erasing a contact (CRM rows and Rasa's tracker-store events, audited) and the retention purge."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crm_core.chats.transcripts import RASA_EVENTS, sync_transcripts
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import (
    Activity,
    AssignmentEvent,
    Contact,
    Conversation,
    Deal,
    DealEdit,
    Erasure,
    Invitation,
    Lead,
    Meeting,
    Message,
    Notification,
    StageChange,
    utcnow,
)
from crm_core.people.privacy import erase_contact, erasures, purge_never_qualified
from crm_core.people.reps import add_rep
from crm_core.qualification.policy import LeadFacts
from crm_core.sales import activities, deals, dedup
from crm_core.sales.leads import capture_lead
from crm_core.sales.lifecycle import move_lead
from crm_core.scheduling import meetings
from crm_core.scheduling.task_reminders import remind_due_tasks
from crm_core.schemas import ConversationRef, DealUpdate, NewDeal, NewRep
from tests.unit.test_kept_counters import assert_kept_figures_equal_a_recount
from tests.unit.test_transcript_search import SQL_FACTS
from tests.unit.test_transcripts import RasaEvents


@pytest.fixture
def rasa_events(tmp_path: Path) -> RasaEvents:
    return RasaEvents(tmp_path / "events.db")


def rasa_senders(events: RasaEvents) -> set[str]:
    with events.engine.connect() as connection:
        return set(connection.scalars(select(RASA_EVENTS.c.sender_id)))


def rows(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def contact_of(session: Session, lead_id: int) -> int:
    lead = session.get(Lead, lead_id)
    assert lead is not None
    return lead.contact_id


def chat(events: RasaEvents, sender: str, text: str, channel: str = "rest") -> None:
    events.publish(sender, {"event": "action", "name": "action_session_start"})
    events.user(sender, text, "inform", 0.9, channel=channel)
    events.bot(sender, "Thanks!")


def test_erasing_a_contact_removes_every_trace_and_keeps_an_audit(
    session: Session, rasa_events: RasaEvents
) -> None:
    add_rep(session, NewRep(name="Rosa", languages=["en"]))
    chat(rasa_events, "ana-web", "I'm Ana, ana@example.com")
    chat(rasa_events, "telegram-7", "Ana again", channel="telegram")
    chat(rasa_events, "bob", "I'm Bob")
    sync_transcripts(session, rasa_events.url)
    lead = capture_lead(session, SQL_FACTS, ConversationRef(channel="rest", sender_id="ana-web"))
    capture_lead(session, SQL_FACTS, ConversationRef(channel="telegram", sender_id="telegram-7"))
    bob = capture_lead(
        session,
        LeadFacts(need="x", email="bob@example.com", consent=True),
        ConversationRef(channel="rest", sender_id="bob"),
    )
    deal = deals.open_deal(session, lead.id, NewDeal(title="CRM", value=Decimal(100), currency="EUR"))
    deals.update_deal(session, deal.id, DealUpdate(title="CRM for Ana"))  # a deal edit names her
    activities.add_note(session, lead.id, "called Ana")
    due = utcnow()
    activities.add_activity(session, lead.id, "task", "call Ana back", due_at=due)
    remind_due_tasks(session, due)  # a reminder names its task
    meetings.book(session, lead.id, meetings.offer_slots(session, lead.id)[0])  # its invitation names her
    move_lead(session, lead.id, "contacted")
    contact_id = contact_of(session, lead.id)
    messages_before = rows(session, Message)

    audit = erase_contact(session, contact_id, erased_by="admin@example.com", events_url=rasa_events.url)

    assert session.get(Contact, contact_id) is None
    assert session.scalars(select(Meeting)).all() == [] and session.scalars(select(Invitation)).all() == []
    for model in (Lead, Activity, StageChange, AssignmentEvent, Notification, DealEdit):
        remaining = session.scalars(select(model)).all()
        assert all(getattr(row, "lead_id", bob.id) == bob.id for row in remaining), model
    [kept] = session.scalars(select(Deal)).all()  # the deal stays for the KPIs, anonymised
    assert (kept.lead_id, kept.title, kept.value, kept.currency) == (None, "(erased contact)", 100, "EUR")
    assert {c.sender_id for c in session.scalars(select(Conversation))} == {"bob"}
    assert rasa_senders(rasa_events) == {"bob"}
    assert audit.counts["messages"] == messages_before - 2 == 4
    assert (
        audit.counts["leads"] == 1
        and audit.counts["conversations"] == 2
        and audit.counts["deals_anonymised"] == 1
    )
    assert audit.counts["rasa_events"] == 6
    assert (audit.kind, audit.contact_id, audit.erased_by) == ("contact", contact_id, "admin@example.com")
    logged = erasures(session)[0]
    assert logged.counts == audit.counts
    assert "ana" not in str(logged.model_dump()).lower()  # the audit names no erased data
    assert_kept_figures_equal_a_recount(session)  # the rep's load and the KPI tallies lost the lead


def test_a_merged_contact_is_erased_with_the_one_it_was_merged_into(
    session: Session, rasa_events: RasaEvents
) -> None:
    first = capture_lead(
        session, LeadFacts(email="a@example.com"), ConversationRef(channel="rest", sender_id="s1")
    )
    second = capture_lead(
        session, LeadFacts(phone="+34600111222"), ConversationRef(channel="rest", sender_id="s2")
    )
    kept = contact_of(session, first.id)
    dedup.merge_contacts(session, kept, contact_of(session, second.id), reason="same person")
    audit = erase_contact(session, kept, erased_by="dpo", events_url=rasa_events.url)
    assert audit.counts["contacts"] == 2 and audit.counts["contact_merges"] == 1
    assert rows(session, Contact) == 0 and rows(session, Lead) == 0


def test_erasing_refuses_unknown_contacts_and_anonymous_requests(
    session: Session, rasa_events: RasaEvents
) -> None:
    with pytest.raises(NotFound, match="No contact with id 42"):
        erase_contact(session, 42, erased_by="dpo", events_url=rasa_events.url)
    lead = capture_lead(
        session, LeadFacts(email="a@example.com"), ConversationRef(channel="rest", sender_id="s")
    )
    with pytest.raises(InvalidInput, match="who is erasing"):
        erase_contact(session, contact_of(session, lead.id), erased_by="  ", events_url=rasa_events.url)
    assert rows(session, Erasure) == 0 and rows(session, Contact) == 1


def test_retention_purges_old_conversations_of_visitors_who_never_qualified(
    session: Session, rasa_events: RasaEvents
) -> None:
    for sender in ("old-anonymous", "old-suspect", "old-sql", "new-anonymous"):
        chat(rasa_events, sender, "hello")
    sync_transcripts(session, rasa_events.url)
    capture_lead(session, LeadFacts(need="x"), ConversationRef(channel="rest", sender_id="old-suspect"))
    capture_lead(session, SQL_FACTS, ConversationRef(channel="rest", sender_id="old-sql"))
    last_said = datetime.fromtimestamp(rasa_events.clock, UTC)
    now = last_said + timedelta(days=100)
    session.execute(update(Conversation).values(started_at=last_said - timedelta(minutes=5)))
    recent = session.scalar(select(Conversation.id).where(Conversation.sender_id == "new-anonymous"))
    session.execute(update(Message).where(Message.conversation_id == recent).values(sent_at=now))

    assert purge_never_qualified(session, 120, rasa_events.url, now=now) is None
    audit = purge_never_qualified(session, 90, rasa_events.url, now=now)

    assert audit is not None
    assert audit.counts == {"conversations": 2, "messages": 4, "rasa_events": 6}
    assert {c.sender_id for c in session.scalars(select(Conversation))} == {"old-sql", "new-anonymous"}
    assert rasa_senders(rasa_events) == {"old-sql", "new-anonymous"}
    assert rows(session, Lead) == 2  # leads stay; only their conversations go
    assert (audit.kind, audit.erased_by) == ("retention", "retention")
    with pytest.raises(InvalidInput):
        purge_never_qualified(session, 0, rasa_events.url)

"""Admins' transcript search (every filter, slot values, free text), the detail view, exports, drop-off."""

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import update
from sqlalchemy.orm import Session

from crm_core.chats.transcript_search import (
    FORM_QUESTIONS,
    SlotCondition,
    TranscriptFilter,
    drop_off,
    export_csv,
    export_json,
    matching_conversation_ids,
    search_transcripts,
    transcript_detail,
)
from crm_core.chats.transcripts import sync_transcripts
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import Authority, Conversation, Qualification, Temperature
from crm_core.people.reps import add_rep
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef, NewRep
from tests.unit.test_transcripts import RasaEvents

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rasa_events(tmp_path: Path) -> RasaEvents:
    return RasaEvents(tmp_path / "events.db")


def slot(events: RasaEvents, sender: str, name: str, value: object) -> None:
    events.publish(sender, {"event": "slot", "name": name, "value": value})


SQL_FACTS = LeadFacts(
    need="a CRM",
    budget_amount=Decimal(20000),
    authority=Authority.DECISION_MAKER,
    timeline_days=20,
    email="ana@example.com",
    name="Ana",
    consent=True,
)


@pytest.fixture
def world(session: Session, rasa_events: RasaEvents) -> dict[str, int]:
    """Four conversations: a hot SQL (rest, en, assigned), a Spanish MQL, an anonymous one, a cold one."""
    rosa = add_rep(session, NewRep(name="Rosa", languages=["en", "es"]))
    rasa_events.user("hot", "we need a CRM, budget 20k", "inform", 0.91)
    rasa_events.bot("hot", "When do you need it?")
    rasa_events.user("hot", "within 20 days", "inform", 0.88)
    slot(rasa_events, "hot", "budget_amount", "20000")
    slot(rasa_events, "hot", "timeline_days", 20)
    slot(rasa_events, "hot", "need", "a CRM")
    rasa_events.user("es", "necesitamos un chatbot", "inform", 0.8, channel="socketio")
    slot(rasa_events, "es", "budget_amount", "5000")
    slot(rasa_events, "es", "timeline_days", 200)
    slot(rasa_events, "es", "language", "es")
    rasa_events.user("anon", "just browsing 100% _really_", "chitchat", 0.5, channel="telegram")
    slot(rasa_events, "anon", "budget_amount", "unknown")
    slot(rasa_events, "anon", "requested_slot", "budget")
    slot(rasa_events, "anon", "need", "nothing")
    rasa_events.user("cold", "maybe next year", "inform", 0.7)
    slot(rasa_events, "cold", "budget_amount", "15000")
    slot(rasa_events, "cold", "timeline_days", 365)
    sync_transcripts(session, rasa_events.url)
    hot = capture_lead(session, SQL_FACTS, ConversationRef(channel="rest", sender_id="hot"), source="ads")
    es_facts = LeadFacts(need="un chatbot", email="b@example.com", consent=True, timeline_days=200)
    es = capture_lead(session, es_facts, ConversationRef(channel="socketio", sender_id="es"), language="es")
    cold_facts = LeadFacts(need="x", email="c@example.com", consent=True, budget_amount=Decimal(15000))
    capture_lead(session, cold_facts, ConversationRef(channel="rest", sender_id="cold"), source="ads")
    ids = {c.sender_id: c.id for c in session.query(Conversation)}
    # the Spanish one started a week earlier
    session.execute(
        update(Conversation)
        .where(Conversation.id == ids["es"])
        .values(started_at=datetime(2026, 1, 3, 12, tzinfo=UTC))
    )
    session.flush()
    return {**ids, "hot_lead": hot.id, "es_lead": es.id, "rosa": rosa.id}


def senders(session: Session, world: dict[str, int], **filters: object) -> set[str]:
    page = search_transcripts(session, TranscriptFilter.model_validate(filters))
    assert page.total == len(page.items)
    return {item.sender_id for item in page.items}


def test_every_filter_narrows_the_list(session: Session, world: dict[str, int]) -> None:
    assert senders(session, world) == {"hot", "es", "anon", "cold"}
    assert senders(session, world, channel="socketio") == {"es"}
    assert senders(session, world, qualification="sql") == {"hot"}
    assert senders(session, world, qualification="mql") == {"es", "cold"}
    assert senders(session, world, temperature="hot") == {"hot"}
    assert senders(session, world, temperature="cold") == {"es", "cold"}
    assert senders(session, world, source="ads") == {"hot", "cold"}
    assert senders(session, world, language="es") == {"es"}
    assert senders(session, world, rep_id=world["rosa"]) == {"hot"}
    assert senders(session, world, rep_id=999) == set()
    assert senders(session, world, until=date(2026, 1, 3)) == {"es"}
    assert senders(session, world, since=date(2026, 1, 4)) == {"hot", "anon", "cold"}
    assert senders(session, world, since=date(2026, 1, 3), until=date(2026, 1, 3)) == {"es"}
    assert senders(session, world, channel="rest", source="ads", temperature="cold") == {"cold"}


def test_free_text_searches_every_message_without_wildcards(session: Session, world: dict[str, int]) -> None:
    assert senders(session, world, text="CRM") == {"hot"}
    assert senders(session, world, text="when do you NEED") == {"hot"}  # bot messages too, any case
    assert senders(session, world, text="100%") == {"anon"}
    assert senders(session, world, text="_really_") == {"anon"}
    assert senders(session, world, text="%") == {"anon"}  # a literal percent sign, not "anything"
    assert senders(session, world, text="nowhere said") == set()


def conditions(*texts: str) -> list[SlotCondition]:
    return [SlotCondition.parse(text) for text in texts]


def test_slot_values_compare_as_numbers_and_skip_unknown(session: Session, world: dict[str, int]) -> None:
    assert senders(session, world, slots=conditions("budget >= 10,000")) == {"hot", "cold"}
    assert senders(session, world, slots=conditions("budget_amount < 10000")) == {"es"}
    assert senders(session, world, slots=conditions("timeline ≤ 90")) == {"hot"}
    both = conditions("budget_amount >= 10000", "timeline_days <= 90")
    assert senders(session, world, slots=both) == {"hot"}
    assert senders(session, world, slots=conditions("budget_amount = unknown")) == {"anon"}
    assert senders(session, world, slots=conditions("language = ES")) == {"es"}
    assert senders(session, world, slots=conditions("need != a crm")) == {"anon"}
    assert senders(session, world, qualification="mql", slots=conditions("budget >= 10000")) == {"cold"}


def test_a_malformed_slot_condition_is_explained() -> None:
    with pytest.raises(InvalidInput, match="'budget is big' is not a slot condition"):
        SlotCondition.parse("budget is big")


def test_pages_hold_the_newest_first(session: Session, world: dict[str, int]) -> None:
    first = search_transcripts(session, TranscriptFilter(), page=1, per_page=3)
    second = search_transcripts(session, TranscriptFilter(), page=2, per_page=3)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (4, 2, 3, 1)
    ids = [item.conversation_id for item in first.items + second.items]
    assert ids == sorted(ids, reverse=True)
    with_slots = search_transcripts(session, TranscriptFilter(slots=conditions("budget >= 1")), 2, 2)
    assert (with_slots.total, [i.sender_id for i in with_slots.items]) == (3, ["hot"])
    with pytest.raises(InvalidInput):
        search_transcripts(session, TranscriptFilter(), page=0)


def test_summaries_say_who_and_how_much(session: Session, world: dict[str, int]) -> None:
    hot = search_transcripts(session, TranscriptFilter(channel="rest", temperature="hot")).items[0]
    assert (hot.messages, hot.contact_name, hot.qualification, hot.rep) == (
        3,
        "Ana",
        Qualification.SQL,
        "Rosa",
    )
    assert hot.last_message_at is not None and hot.last_message_at.tzinfo is not None
    anon = search_transcripts(session, TranscriptFilter(channel="telegram")).items[0]
    assert (anon.lead_id, anon.qualification, anon.messages) == (None, None, 1)


def test_the_detail_has_intents_slots_reasons_and_routing(session: Session, world: dict[str, int]) -> None:
    detail = transcript_detail(session, world["hot"])
    assert [(m.role.value, m.text, m.intent, m.confidence) for m in detail.messages] == [
        ("visitor", "we need a CRM, budget 20k", "inform", 0.91),
        ("bot", "When do you need it?", None, None),
        ("visitor", "within 20 days", "inform", 0.88),
    ]
    assert detail.slots["budget_amount"] == "20000"
    assert detail.lead is not None
    assert (detail.lead.qualification, detail.lead.temperature) == (Qualification.SQL, Temperature.HOT)
    assert any(reason["component"] == "class" for reason in detail.lead.reasons)
    assert [(a.action, a.rep) for a in detail.assignments] == [("assigned", "Rosa")]
    with pytest.raises(NotFound, match="No conversation with id 9999"):
        transcript_detail(session, 9999)


def test_exports_carry_every_message_as_csv_and_json(session: Session, world: dict[str, int]) -> None:
    ids = matching_conversation_ids(session, TranscriptFilter(channel="rest"))
    rows = list(csv.DictReader(io.StringIO(export_csv(session, ids))))
    assert [row["text"] for row in rows if row["sender_id"] == "hot"] == [
        "we need a CRM, budget 20k",
        "When do you need it?",
        "within 20 days",
    ]
    assert {row["sender_id"] for row in rows} == {"hot", "cold"}
    assert rows[0]["qualification"] in ("sql", "mql") and rows[0]["intent"] in ("inform", "")
    exported = json.loads(export_json(session, ids))
    assert [t["sender_id"] for t in exported] == ["cold", "hot"]
    assert exported[1]["messages"][0]["confidence"] == 0.91
    assert exported[1]["assignments"][0]["rep"] == "Rosa"
    with pytest.raises(InvalidInput, match="More than 1 transcripts match"):
        matching_conversation_ids(session, TranscriptFilter(), limit=1)


def test_csv_export_defuses_spreadsheet_formulas(session: Session, rasa_events: RasaEvents) -> None:
    rasa_events.user("f", '=HYPERLINK("http://evil")', "inform", 0.5)
    sync_transcripts(session, rasa_events.url)
    everything = matching_conversation_ids(session, TranscriptFilter())
    rows = list(csv.DictReader(io.StringIO(export_csv(session, everything))))
    assert rows[0]["text"] == '\'=HYPERLINK("http://evil")'


def test_drop_off_counts_the_open_question_of_idle_conversations(
    session: Session, rasa_events: RasaEvents
) -> None:
    for sender, answered, open_question in (
        ("a", ["need"], "budget"),
        ("b", ["need"], "budget"),
        ("c", ["need", "budget", "authority"], "timeline"),
        ("d", FORM_QUESTIONS, None),  # finished: requested_slot back to null
    ):
        rasa_events.user(sender, "hi", "greet", 0.9)
        for question in answered:
            slot(rasa_events, sender, question, "x")
        slot(rasa_events, sender, "requested_slot", open_question)
    sync_transcripts(session, rasa_events.url)
    last_said = datetime.fromtimestamp(rasa_events.clock, UTC)
    later = last_said + timedelta(hours=1)
    rows = {row.question: row for row in drop_off(session, now=later)}
    assert (rows["need"].reached, rows["need"].abandoned) == (4, 0)
    assert (rows["budget"].reached, rows["budget"].abandoned, rows["budget"].rate) == (4, 2, 0.5)
    assert (rows["timeline"].reached, rows["timeline"].abandoned) == (2, 1)
    assert (rows["consent"].reached, rows["consent"].abandoned, rows["consent"].rate) == (1, 0, 0.0)
    still_typing = {row.question: row for row in drop_off(session, now=last_said + timedelta(minutes=5))}
    assert still_typing["budget"].abandoned == 0  # not idle long enough to call it abandoned
    none_match = drop_off(session, TranscriptFilter(text="nothing"), now=later)
    assert all(row.reached == 0 for row in none_match)


def test_form_questions_are_the_forms_required_slots() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert tuple(domain["forms"]["qualification_form"]["required_slots"]) == FORM_QUESTIONS

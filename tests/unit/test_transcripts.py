"""Copying Rasa's conversation events into transcripts: once each, linked to the conversation and its lead."""

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from crm_core.chats.transcripts import RASA_EVENTS, sync_transcripts, transcript
from crm_core.errors import NotFound
from crm_core.models import Conversation, Message, MessageRole
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead
from crm_core.schemas import ConversationRef


class RasaEvents:
    """An `events` table written the way Rasa's SQL tracker store (or SQL event rasa_events) writes it."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}"
        self.engine = create_engine(self.url)
        RASA_EVENTS.metadata.create_all(self.engine)
        self.clock = 1_764_000_000.0

    def publish(self, sender: str, event: dict[str, Any], raw: str | None = None) -> None:
        self.clock += 1
        with self.engine.begin() as connection:
            data = (
                raw
                if raw is not None
                else json.dumps({"sender_id": sender, "timestamp": self.clock, **event})
            )
            connection.execute(RASA_EVENTS.insert().values(sender_id=sender, data=data))

    def user(self, sender: str, text: str, intent: str, confidence: float, channel: str = "rest") -> None:
        parse = {"intent": {"name": intent, "confidence": confidence}, "entities": []}
        self.publish(
            sender,
            {
                "event": "user",
                "text": text,
                "parse_data": parse,
                "input_channel": channel,
                "metadata": {"x": 1},
            },
        )

    def bot(self, sender: str, text: str, buttons: list[dict[str, str]] | None = None) -> None:
        self.publish(sender, {"event": "bot", "text": text, "data": {"buttons": buttons}})


@pytest.fixture
def rasa_events(tmp_path: Path) -> RasaEvents:
    return RasaEvents(tmp_path / "events.db")


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Message)) or 0


def test_messages_are_copied_once_in_order_with_intents(session: Session, rasa_events: RasaEvents) -> None:
    rasa_events.publish("s1", {"event": "action", "name": "action_session_start"})
    rasa_events.bot("s1", "orphan before any visitor message")  # no conversation yet: nothing to attach to
    rasa_events.user("s1", "hello", "greet", 0.98)
    rasa_events.bot("s1", "Hi! What are you looking for?")
    rasa_events.publish("s1", {"event": "slot", "name": "need", "value": "a CRM"})
    rasa_events.publish("s1", {"event": "slot", "name": "need", "value": "a CRM for sales"})
    rasa_events.bot("s1", "May we contact you?", [{"title": "Yes", "payload": "/affirm"}])
    rasa_events.publish("s1", {}, raw="not json")

    assert sync_transcripts(session, rasa_events.url) == 3
    assert sync_transcripts(session, rasa_events.url) == 0

    found = transcript(session, "s1")
    assert found.channel == "rest"
    assert [(m.role, m.text) for m in found.messages] == [
        (MessageRole.VISITOR, "hello"),
        (MessageRole.BOT, "Hi! What are you looking for?"),
        (MessageRole.BOT, "May we contact you?"),
    ]
    assert (found.messages[0].intent, found.messages[0].confidence) == ("greet", 0.98)
    assert found.messages[0].extra == {"metadata": {"x": 1}}
    assert found.messages[2].extra == {"buttons": [{"title": "Yes", "payload": "/affirm"}]}
    assert found.slots == {"need": "a CRM for sales"}
    assert found.messages[0].sent_at < found.messages[1].sent_at


def test_later_events_continue_where_the_last_sync_stopped(session: Session, rasa_events: RasaEvents) -> None:
    rasa_events.user("s1", "hi", "greet", 0.9)
    sync_transcripts(session, rasa_events.url)
    rasa_events.bot("s1", "Hello!")
    rasa_events.user("s2", "hola", "greet", 0.8, channel="socketio")
    assert sync_transcripts(session, rasa_events.url, batch=1) == 2
    assert count(session) == 3
    assert transcript(session, "s2").channel == "socketio"


def test_a_broker_that_published_nothing_yet_is_fine(session: Session, tmp_path: Path) -> None:
    assert sync_transcripts(session, f"sqlite:///{tmp_path / 'never-written.db'}") == 0


def test_lead_capture_and_transcripts_share_one_conversation(
    session: Session, rasa_events: RasaEvents
) -> None:
    rasa_events.user("s9", "we need a bot", "inform", 0.7)
    sync_transcripts(session, rasa_events.url)
    lead = capture_lead(session, LeadFacts(need="a bot"), ConversationRef(channel="rest", sender_id="s9"))
    assert session.scalar(select(func.count()).select_from(Conversation)) == 1
    assert transcript(session, "s9").lead_id == lead.id


def test_unknown_conversation_is_a_clear_error(session: Session) -> None:
    with pytest.raises(NotFound, match="No conversation with id nope"):
        transcript(session, "nope")


def test_a_second_channel_on_the_same_sender_id_never_replaces_the_transcript(
    session: Session, rasa_events: RasaEvents
) -> None:
    """Rasa keeps one tracker per sender id: a message that reached it through another channel (before the
    channels refused that) joins the conversation, marked, and the lead keeps its transcript."""
    rasa_events.user("telegram-7", "we need a bot", "inform", 0.8, channel="telegram")
    sync_transcripts(session, rasa_events.url)
    lead = capture_lead(
        session, LeadFacts(need="a bot"), ConversationRef(channel="telegram", sender_id="telegram-7")
    )
    rasa_events.user("telegram-7", "hi, it's me again", "greet", 0.9, channel="rest")
    rasa_events.bot("telegram-7", "Welcome back!")
    sync_transcripts(session, rasa_events.url)
    again = capture_lead(
        session, LeadFacts(need="a bot"), ConversationRef(channel="rest", sender_id="telegram-7")
    )

    assert again.id == lead.id
    assert session.scalar(select(func.count()).select_from(Conversation)) == 1
    found = transcript(session, "telegram-7")
    assert (found.channel, found.lead_id) == ("telegram", lead.id)
    assert [m.text for m in found.messages] == ["we need a bot", "hi, it's me again", "Welcome back!"]
    assert "channel" not in found.messages[0].extra
    assert found.messages[1].extra["channel"] == "rest"


def test_an_older_second_conversation_row_does_not_take_the_first_ones_place(
    session: Session, rasa_events: RasaEvents
) -> None:
    first = Conversation(channel="rest", sender_id="telegram-8", slots={})
    session.add_all([first, Conversation(channel="socketio", sender_id="telegram-8", slots={})])
    session.flush()
    rasa_events.user("telegram-8", "hello", "greet", 0.9, channel="socketio")
    sync_transcripts(session, rasa_events.url)
    found = transcript(session, "telegram-8")
    assert found.channel == "rest" and [m.text for m in found.messages] == ["hello"]

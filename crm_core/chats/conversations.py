"""Conversations: one per Rasa sender id, shared by lead capture and transcripts."""

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crm_core.models import Conversation, utcnow


def first_conversation(session: Session, sender_id: str) -> Conversation | None:
    """The conversation of Rasa's sender id: the first one recorded for it (a database from before one
    conversation per sender id may hold later ones, which never replace it)."""
    return session.scalar(
        select(Conversation).where(Conversation.sender_id == sender_id).order_by(Conversation.id).limit(1)
    )


def conversation_for(session: Session, channel: str, sender_id: str) -> Conversation:
    """The conversation of Rasa's sender id, created on ``channel`` if new.

    Rasa keeps one tracker per sender id whatever channel a message came through, so the CRM keeps one
    conversation per sender id: the channel of its first message. A message from another channel joins it
    rather than starting a second conversation that would take the first one's place on the lead page.
    Lead capture (in the action server) and transcript ingestion (in its own process) may both meet a
    conversation first; an insert that ignores a conflict lets either win without an error.
    """
    found = first_conversation(session, sender_id)
    if found is not None:
        return found
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(Conversation)
        .values(channel=channel, sender_id=sender_id, started_at=utcnow(), slots={})
        .on_conflict_do_nothing(index_elements=["channel", "sender_id"])
    )
    conversation = first_conversation(session, sender_id)
    assert conversation is not None
    return conversation

"""Conversations: one per channel and Rasa sender id, shared by lead capture and transcripts."""

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from crm_core.models import Conversation, utcnow


def conversation_for(session: Session, channel: str, sender_id: str) -> Conversation:
    """The conversation for (channel, sender id), created if new.

    Lead capture (in the action server) and transcript ingestion (in its own process) may both meet a
    conversation first; an insert that ignores a conflict lets either win without an error.
    """
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(Conversation)
        .values(channel=channel, sender_id=sender_id, started_at=utcnow(), slots={})
        .on_conflict_do_nothing(index_elements=["channel", "sender_id"])
    )
    conversation = session.scalar(
        select(Conversation).where(Conversation.channel == channel, Conversation.sender_id == sender_id)
    )
    assert conversation is not None
    return conversation

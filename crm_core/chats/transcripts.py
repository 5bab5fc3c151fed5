"""Transcripts: every visitor and bot message of every channel, copied from Rasa's conversation events.

Rasa's SQL tracker store appends every event of every conversation to its ``events`` table (an SQL event
broker writes a table of the same shape). ``sync_transcripts`` copies the new ones into crm_core, once
each, so transcripts live beside the leads they belong to and can be searched, exported and erased with
them. Reading the tracker store costs the conversation nothing; a broker would add a write per event.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy import Text as SqlText
from sqlalchemy.orm import Session

from crm_core.assignment import live_request
from crm_core.chats import ownership
from crm_core.chats.conversations import conversation_for, first_conversation
from crm_core.errors import NotFound
from crm_core.models import Conversation, IngestCursor, Message, MessageRole, Owner
from crm_core.sales.pipeline import note_first_contact

log = logging.getLogger(__name__)

# A ``bot`` event whose metadata says ``author: rep`` (with ``rep_id``) was written by a person.
REP_AUTHOR = "rep"
SPOKEN_FIRST = ownership.SPOKEN_FIRST  # ``spoken_first: true`` in a bot event's metadata
# A ``bot`` event whose metadata says ``embudo: failed_turn`` answered a failed turn (the action server or
# the CRM was down; ``rasa_channels/failsafe.py``, the same mark): it offered the visitor a person.
FAILED_TURN = "failed_turn"

_rasa_metadata = MetaData()
RASA_EVENTS = Table(
    "events",
    _rasa_metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", SqlText),
)  # the columns we read of Rasa's `events` table (tracker store or SQL broker)


@dataclass(frozen=True)
class RasaEvent:
    id: int
    sender_id: str
    data: dict[str, Any]


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    role: MessageRole
    rep_id: int | None = None
    text: str
    intent: str | None
    confidence: float | None
    sent_at: datetime
    extra: dict[str, Any]


class OwnershipChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_owner: Owner
    to_owner: Owner
    rep_id: int | None
    changed_by: str
    changed_at: datetime


class TranscriptOut(BaseModel):
    channel: str
    sender_id: str
    lead_id: int | None
    slots: dict[str, Any]
    messages: list[MessageOut]
    ownership: list[OwnershipChangeOut] = []


@lru_cache
def events_engine(url: str) -> Engine:
    """One engine per tracker-store database: transcripts read it, erasure deletes from it."""
    return create_engine(url)


def read_rasa_events(events_url: str, after_id: int, limit: int = 500) -> list[RasaEvent]:
    """Events after ``after_id`` in the order Rasa wrote them; none from a database not written yet."""
    engine = events_engine(events_url)
    events_table = RASA_EVENTS.c
    query = select(RASA_EVENTS).where(events_table.id > after_id).order_by(events_table.id).limit(limit)
    events = []
    with engine.connect() as connection:
        if not engine.dialect.has_table(connection, "events"):
            return []
        for row in connection.execute(query):
            try:
                data = json.loads(row.data)
            except (TypeError, ValueError):
                log.warning("Rasa event %s is not JSON; skipped", row.id)
                data = {}
            events.append(RasaEvent(id=row.id, sender_id=row.sender_id or "", data=data))
    return events


def _timestamp(data: dict[str, Any]) -> datetime:
    value = data.get("timestamp")
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else datetime.now(UTC)


def ingest(session: Session, events: Iterable[RasaEvent]) -> int:
    """Copy user and bot messages and slot values into transcripts; returns how many messages were added.

    A bot message has no channel of its own: it belongs to the conversation of that sender's latest
    visitor message.
    """
    added = 0
    by_sender: dict[str, Conversation] = {}
    for event in events:
        kind = event.data.get("event")
        conversation = by_sender.get(event.sender_id)
        if kind == "user" and conversation is None:
            channel = event.data.get("input_channel") or "unknown"
            conversation = conversation_for(session, channel, event.sender_id)
        elif conversation is None:
            conversation = first_conversation(session, event.sender_id)
        if conversation is None:
            continue  # nothing the visitor said yet (e.g. the session-start events)
        by_sender[event.sender_id] = conversation
        if kind == "slot" and event.data.get("name"):
            conversation.slots = {**conversation.slots, event.data["name"]: event.data.get("value")}
        elif kind in ("user", "bot") and not _already_copied(session, event.id):
            session.add(_message(conversation, event, kind))
            added += 1
            if kind == "bot" and (event.data.get("metadata") or {}).get("embudo") == FAILED_TURN:
                _wait_for_a_person(session, event.sender_id, datetime.now(UTC))  # who is on shift now
    session.flush()
    return added


def _wait_for_a_person(session: Session, sender_id: str, at: datetime) -> None:
    """A failed turn offered the visitor a person: a conversation the bot owns now waits for one, and the
    lead's person, if there is a lead, is asked to join (``live_request.after_failed_turn``)."""
    session.flush()
    if ownership.current(session, sender_id).owner is Owner.BOT:
        live_request.after_failed_turn(session, sender_id, at)


def _already_copied(session: Session, event_id: int) -> bool:
    return session.scalar(select(Message.id).where(Message.rasa_event_id == event_id)) is not None


def rep_text(data: dict[str, Any]) -> str:
    """The text of a rep's message: Rasa's ``bot`` event carries it in its custom payload (see
    ``bot/live_chat.py``: a plain text would reach the widget without the rep's name)."""
    custom = ((data.get("data") or {}).get("custom") or {}).get("data") or {}
    return str(data.get("text") or custom.get("text") or "")


def _message(conversation: Conversation, event: RasaEvent, kind: str) -> Message:
    data = event.data
    if kind == "user":
        intent = (data.get("parse_data") or {}).get("intent") or {}
        extra: dict[str, Any] = {"metadata": data.get("metadata") or {}}
        channel = data.get("input_channel") or "unknown"
        if channel != conversation.channel:  # written before the channels kept to their own conversations
            extra["channel"] = channel
        return Message(
            conversation=conversation,
            role=MessageRole.VISITOR,
            text=data.get("text") or "",
            intent=intent.get("name"),
            confidence=intent.get("confidence"),
            extra=extra,
            sent_at=_timestamp(data),
            rasa_event_id=event.id,
        )
    metadata = data.get("metadata") or {}
    if metadata.get("author") == REP_AUTHOR and isinstance(metadata.get("rep_id"), int):
        if conversation.lead is not None:  # a rep writing to the visitor: maybe the lead's first contact
            note_first_contact(conversation.lead, _timestamp(data))
        return Message(
            conversation=conversation,
            role=MessageRole.REP,
            text=rep_text(data),
            rep_id=metadata["rep_id"],
            extra={"rep_name": metadata.get("rep_name")},
            sent_at=_timestamp(data),
            rasa_event_id=event.id,
        )
    buttons = ((data.get("data") or {}).get("buttons")) or []
    extra = {"buttons": buttons} if buttons else {}
    if metadata.get(SPOKEN_FIRST) is True:  # said on the bot's own initiative (ownership.lines_to_relay)
        extra[SPOKEN_FIRST] = True
    return Message(
        conversation=conversation,
        role=MessageRole.BOT,
        text=data.get("text") or "",
        extra=extra,
        sent_at=_timestamp(data),
        rasa_event_id=event.id,
    )


def sync_transcripts(session: Session, events_url: str, batch: int = 500) -> int:
    """Copy every message Rasa recorded since the last sync; returns how many were added. Several copiers
    may run: the cursor row is locked until the caller commits, so the next one continues after it (and
    ``rasa_event_id`` is unique, so a line is never copied twice)."""
    cursor = session.get(IngestCursor, events_url, with_for_update=True) or IngestCursor(
        source=events_url, last_event_id=0
    )
    session.add(cursor)
    added = 0
    while events := read_rasa_events(events_url, cursor.last_event_id, batch):
        added += ingest(session, events)
        cursor.last_event_id = events[-1].id
    session.flush()
    return added


def transcript(session: Session, sender_id: str) -> TranscriptOut:
    conversation = first_conversation(session, sender_id)
    if conversation is None:
        raise NotFound(f"No conversation with id {sender_id}.")
    return TranscriptOut(
        channel=conversation.channel,
        sender_id=conversation.sender_id,
        lead_id=conversation.lead_id,
        slots=conversation.slots,
        messages=[MessageOut.model_validate(message) for message in conversation.messages],
        ownership=[
            OwnershipChangeOut.model_validate(change) for change in ownership.history(session, sender_id)
        ],
    )


def messages_after(session: Session, sender_id: str, after_id: int = 0) -> list[Message]:
    """The conversation's messages copied after message ``after_id``, in order (a live view's next lines)."""
    return list(
        session.scalars(
            select(Message)
            .join(Conversation)
            .where(Conversation.sender_id == sender_id, Message.id > after_id)
            .order_by(Message.id)
        )
    )


def author(message: MessageOut) -> str:
    """Who wrote a line, as people read it: visitor, bot, or the rep by name and id."""
    if message.role is not MessageRole.REP:
        return message.role.value
    name = message.extra.get("rep_name")
    number = f"#{message.rep_id}" if message.rep_id else None
    return " ".join(filter(None, ["rep", number, f"({name})" if name else None]))


def as_text(found: TranscriptOut) -> list[str]:
    """The conversation as plain lines (CLI, text export): every message with its author, and each change of
    who was answering at the moment it happened."""

    def change_line(change: OwnershipChangeOut) -> str:
        rep = f" (rep #{change.rep_id})" if change.rep_id else ""
        moved = f"{change.from_owner.value} → {change.to_owner.value}{rep}, by {change.changed_by}"
        return f"{change.changed_at:%Y-%m-%d %H:%M:%S}  --      {moved}"

    lines = [f"Conversation {found.sender_id} on {found.channel}, lead {found.lead_id or '-'}"]
    changes = list(found.ownership)
    for message in found.messages:
        while changes and changes[0].changed_at <= message.sent_at:  # who answered from then on
            lines.append(change_line(changes.pop(0)))
        understood = message.intent and message.confidence is not None
        intent = f"  [{message.intent} {message.confidence:.2f}]" if understood else ""
        lines.append(f"{message.sent_at:%Y-%m-%d %H:%M:%S}  {author(message):<7} {message.text}{intent}")
    lines += [change_line(change) for change in changes]
    return lines

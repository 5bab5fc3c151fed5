"""Who owns a live conversation — the bot, nobody yet (a person was asked for), or a rep — and the one
function that changes it.

A conversation is Rasa's sender id. No ``conversation_owners`` row means the bot owns it. Every change
goes through ``change``, which checks it against ``MOVES`` and writes an ``ownership_changes`` row with
who made it and when, so the transcript shows who was answering at every moment. Pausing and resuming
Rasa to match is the adapters' job (``bot/live_chat.py``); nothing here talks to Rasa.
"""

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput, InvalidTransition, NotFound
from crm_core.limits import check_text
from crm_core.models import (
    Conversation,
    ConversationOwner,
    Lead,
    Message,
    MessageRole,
    Owner,
    OwnershipChange,
    Rep,
    utcnow,
)

# A bot line said on the bot's own initiative (nobody joined in time, a rep handed back), not in reply to a
# visitor: the bot event's metadata says so, and crm_core.chats.transcripts keeps the mark in the line's
# extra.
SPOKEN_FIRST = "spoken_first"
MAX_TEXT = 4000  # characters in one rep message (Telegram's limit is 4096)


class Move(enum.StrEnum):
    ASK_FOR_PERSON = "ask_for_person"  # the visitor asked for a person; nobody has taken it yet
    TAKE_OVER = "take_over"  # a rep starts answering
    HAND_BACK = "hand_back"  # the owning rep gives the conversation back to the bot
    GIVE_UP_WAITING = "give_up_waiting"  # nobody took it: the bot answers again
    OWNER_GONE = "owner_gone"  # the owning rep went off shift or away with the visitor waiting: the bot again


# (owner now, move) → owner after. Anything else is refused.
MOVES: dict[tuple[Owner, Move], Owner] = {
    (Owner.BOT, Move.ASK_FOR_PERSON): Owner.WAITING,
    (Owner.BOT, Move.TAKE_OVER): Owner.REP,
    (Owner.WAITING, Move.TAKE_OVER): Owner.REP,
    (Owner.WAITING, Move.GIVE_UP_WAITING): Owner.BOT,
    (Owner.REP, Move.HAND_BACK): Owner.BOT,
    (Owner.REP, Move.OWNER_GONE): Owner.BOT,
}


@dataclass(frozen=True)
class Ownership:
    sender_id: str
    owner: Owner
    rep_id: int | None
    rep_name: str | None
    since: datetime | None


def _conversation_exists(session: Session, sender_id: str) -> None:
    if session.scalar(select(Conversation.id).where(Conversation.sender_id == sender_id).limit(1)) is None:
        raise NotFound(f"No conversation with id {sender_id}.")


def _row(session: Session, sender_id: str, *, lock: bool = False) -> ConversationOwner | None:
    query = select(ConversationOwner).where(ConversationOwner.sender_id == sender_id)
    return session.scalar(query.with_for_update() if lock else query)


def _view(sender_id: str, row: ConversationOwner | None) -> Ownership:
    if row is None:
        return Ownership(sender_id, Owner.BOT, None, None, None)
    return Ownership(sender_id, row.owner, row.rep_id, row.rep.name if row.rep else None, row.since)


def current(session: Session, sender_id: str) -> Ownership:
    """Who owns the conversation now (NotFound for a conversation the CRM has never seen)."""
    _conversation_exists(session, sender_id)
    return _view(sender_id, _row(session, sender_id))


def _active_rep(session: Session, rep_id: int | None) -> Rep:
    if rep_id is None:
        raise InvalidInput("Say which rep: rep_id is required.")
    rep = session.get(Rep, rep_id)
    if rep is None:
        raise NotFound(f"No rep with id {rep_id}.")
    if not rep.active:
        raise InvalidTransition(f"{rep.name} is not an active rep.")
    return rep


def _refusal(state: Ownership, move: Move) -> InvalidTransition:
    who = f"{state.rep_name} (rep {state.rep_id})" if state.owner is Owner.REP else None
    if move is Move.TAKE_OVER and who:
        return InvalidTransition(f"{who} already owns conversation {state.sender_id}.")
    if move is Move.HAND_BACK:
        return InvalidTransition(
            f"Conversation {state.sender_id} is not owned by a rep: nothing to hand back."
        )
    if move is Move.ASK_FOR_PERSON:
        return InvalidTransition(
            f"Conversation {state.sender_id} already has a person asked for or answering "
            f"({state.owner.value})."
        )
    return InvalidTransition(f"Conversation {state.sender_id} is owned by {who or state.owner.value}.")


def change(
    session: Session,
    sender_id: str,
    move: Move,
    *,
    by: str,
    rep_id: int | None = None,
    at: datetime | None = None,
) -> OwnershipChange:
    """Apply ``move`` to the conversation if ``MOVES`` allows it, and record who did it and when.

    ``rep_id`` is the rep taking over, or the rep handing back (who must be the owner; omit it to hand
    back for whoever owns it, e.g. an admin). A refused move raises before anything is written.
    """
    if not by.strip():
        raise InvalidInput("Say who makes the change.")
    _conversation_exists(session, sender_id)
    row = _row(session, sender_id, lock=True)
    state = _view(sender_id, row)
    target = MOVES.get((state.owner, move))
    if target is None:
        raise _refusal(state, move)
    acting_rep: int | None = None
    if move is Move.TAKE_OVER:
        acting_rep = _active_rep(session, rep_id).id
    elif move is Move.HAND_BACK:
        if rep_id is not None and rep_id != state.rep_id:
            raise InvalidTransition(
                f"Rep {rep_id} does not own conversation {sender_id}: {state.rep_name} does."
            )
        acting_rep = state.rep_id
    when = at or utcnow()
    if row is None:
        row = ConversationOwner(sender_id=sender_id, owner=target, since=when)
        session.add(row)
    row.owner, row.since = target, when
    row.rep_id = acting_rep if target is Owner.REP else None
    record = OwnershipChange(
        sender_id=sender_id,
        from_owner=state.owner,
        to_owner=target,
        rep_id=acting_rep,
        changed_by=by.strip()[:200],
        changed_at=when,
    )
    session.add(record)
    session.flush()
    return record


def ask_for_person(
    session: Session, sender_id: str, at: datetime | None = None, by: str = "visitor"
) -> Ownership:
    """The visitor asked for a person (or, ``by`` the bot, was offered one): a conversation the bot owns now
    waits for one (a rep can take it over live); one already waiting or with a rep stays as it is."""
    state = current(session, sender_id)
    if state.owner is Owner.BOT:
        change(session, sender_id, Move.ASK_FOR_PERSON, by=by, at=at)
        return current(session, sender_id)
    return state


def writer(session: Session, sender_id: str, rep_id: int, text: str) -> tuple[Rep, str]:
    """The rep and the cleaned text of a message ``rep_id`` may send now; refuses unless they own it."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("The message is empty.", "text")
    if len(cleaned) > MAX_TEXT:
        raise InvalidInput(f"The message has {len(cleaned)} characters; at most {MAX_TEXT} fit.", "text")
    check_text(cleaned, "text", MAX_TEXT, multiline=True)
    _conversation_exists(session, sender_id)
    state = _view(sender_id, _row(session, sender_id, lock=True))
    if state.owner is not Owner.REP:
        owner = "the bot" if state.owner is Owner.BOT else "nobody yet"
        raise InvalidTransition(f"Conversation {sender_id} is owned by {owner}: take it over before writing.")
    if state.rep_id != rep_id:
        raise InvalidTransition(f"Rep {rep_id} does not own conversation {sender_id}: {state.rep_name} does.")
    rep = session.get(Rep, rep_id)
    assert rep is not None
    return rep, cleaned


def history(session: Session, sender_id: str) -> list[OwnershipChange]:
    """Every ownership change of the conversation, oldest first."""
    return list(
        session.scalars(
            select(OwnershipChange)
            .where(OwnershipChange.sender_id == sender_id)
            .order_by(OwnershipChange.changed_at, OwnershipChange.id)
        )
    )


def owned_by(session: Session, rep_id: int) -> list[str]:
    """The conversations ``rep_id`` is answering now, the most recently taken first."""
    return list(
        session.scalars(
            select(ConversationOwner.sender_id)
            .where(ConversationOwner.owner == Owner.REP, ConversationOwner.rep_id == rep_id)
            .order_by(ConversationOwner.since.desc())
        )
    )


@dataclass(frozen=True)
class Waiting:
    """A conversation waiting for a person: since when, and its lead (and the lead's rep) if it has one."""

    sender_id: str
    since: datetime
    lead_id: int | None
    rep_id: int | None


def waiting(session: Session, limit: int = 50) -> list[Waiting]:
    """Conversations waiting for a person, the longest waiting first (the console lists them for whoever may
    join: a failed turn before there was a lead has nobody notified)."""
    rows = session.execute(
        select(ConversationOwner.sender_id, ConversationOwner.since)
        .where(ConversationOwner.owner == Owner.WAITING)
        .order_by(ConversationOwner.since, ConversationOwner.sender_id)
        .limit(limit)
    ).all()
    leads = {
        sender: (lead_id, rep_id)
        for sender, lead_id, rep_id in session.execute(
            select(Conversation.sender_id, Lead.id, Lead.assigned_rep_id)
            .join(Lead, Lead.id == Conversation.lead_id)
            .where(Conversation.sender_id.in_([row.sender_id for row in rows]))
            .order_by(Conversation.id)
        )
    }
    return [Waiting(row.sender_id, row.since, *leads.get(row.sender_id, (None, None))) for row in rows]


def conversation_of_lead(session: Session, lead_id: int) -> str:
    """The conversation (Rasa sender id) a lead came from, for taking it over from the lead."""
    sender = session.scalar(
        select(Conversation.sender_id).where(Conversation.lead_id == lead_id).order_by(Conversation.id.desc())
    )
    if sender is None:
        raise NotFound(f"Lead {lead_id} has no conversation to take over.")
    return sender


@dataclass(frozen=True)
class LiveLine:
    """A message a person outside the web widget must be shown: a rep's line or a line the bot said on its
    own initiative (for the visitor's channel), or a visitor's line in a conversation a rep answers now
    (for that rep, at ``rep_chat_id``)."""

    message_id: int
    sender_id: str
    author: MessageRole
    text: str
    rep_name: str | None
    rep_chat_id: int | None


def lines_to_relay(session: Session, after_id: int, limit: int = 100) -> list[LiveLine]:
    """Rep lines, bot lines said on the bot's own initiative (no visitor message asked for them, so no
    channel reply carries them), and visitor lines of conversations a rep owns now, copied after message
    ``after_id``."""
    answered = select(ConversationOwner.sender_id).where(ConversationOwner.owner == Owner.REP)
    rows = session.execute(
        select(Message, Conversation.sender_id)
        .join(Conversation)
        .where(
            Message.id > after_id,
            (Message.role == MessageRole.REP)
            | ((Message.role == MessageRole.BOT) & Message.extra[SPOKEN_FIRST].as_boolean())
            | ((Message.role == MessageRole.VISITOR) & Conversation.sender_id.in_(answered)),
        )
        .order_by(Message.id)
        .limit(limit)
    )
    lines = []
    for message, sender_id in rows:
        rep_chat_id = None
        if message.role is MessageRole.VISITOR:
            owner = _row(session, sender_id)
            rep_chat_id = owner.rep.telegram_chat_id if owner and owner.rep else None
        name = message.extra.get("rep_name") if message.role is MessageRole.REP else None
        lines.append(LiveLine(message.id, sender_id, message.role, message.text, name, rep_chat_id))
    return lines


def newest_message_id(session: Session) -> int:
    return session.scalar(select(func.max(Message.id))) or 0

"""A visitor asks for a person in the chat: who can join now, when the team is back if nobody can, and how
long the visitor waits for a person before the bot takes the conversation back.

Who joins: the rep who has the conversation's lead, when on shift (active, not away, within their working
hours); a lead nobody has yet (or no lead yet) goes to routing's pick in the visitor's language — the same
``routing.choose`` that assigns it, so whoever is told to join is whoever gets the lead. Nobody can: the team
is back at the earliest shift start of the reps who could take it. The visitor waits at most
``live_wait_minutes`` (``EMBUDO_LIVE_WAIT_MINUTES``) from the moment the conversation began waiting.

A rep who owns a live conversation and goes off shift or away does not keep the visitor waiting for ever:
once the visitor's latest message has had no rep line after it for ``live_wait_minutes`` while that rep is
off shift, the conversation is ``stranded`` and the bot takes it back (``ownership`` move ``owner_gone``).

Changing the owner is ``crm_core.chats.ownership``'s; telling Rasa and the visitor is the adapters'.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.assignment import routing
from crm_core.chats import ownership
from crm_core.config import get_settings
from crm_core.models import Conversation, ConversationOwner, Lead, Message, MessageRole, Owner, Rep
from crm_core.people import working_hours
from crm_core.sales import lifecycle

LIVE_CAUSE = "the visitor asked to talk to a person and is waiting in the chat"
FAILED_TURN_CAUSE = (
    "the bot failed to answer (a server was down): the visitor was offered a person and is waiting"
)
FAILED_TURN_BY = "bot: a turn failed"


@dataclass(frozen=True)
class Availability:
    """Who can join the chat now (``rep_id``), or else when the team is back (``back_at``, UTC; None when
    nobody who could take it has a shift ahead, or they are on shift but full)."""

    rep_id: int | None
    rep_name: str | None
    back_at: datetime | None


def on_shift(rep: Rep, now: datetime) -> bool:
    """Active, not away and within working hours (their own time zone) at ``now``."""
    away = rep.away_until is not None and now < rep.away_until
    return rep.active and not away and routing.is_working(rep, now)


def next_shift_start(rep: Rep, now: datetime) -> datetime | None:
    """The first moment at or after ``now`` when ``rep`` is on shift (UTC): ``now`` itself when on shift,
    else the next start of their working hours after any time away. None for an inactive rep or one
    whose hours name no day."""
    if not rep.active:
        return None
    start = max(now, rep.away_until) if rep.away_until is not None else now
    if not rep.working_hours:
        return start.astimezone(UTC)
    zone = ZoneInfo(rep.timezone)
    wall = start.astimezone(zone).replace(tzinfo=None)
    week = working_hours.spans(
        rep.working_hours, wall.date() - timedelta(days=1), wall.date() + timedelta(days=7)
    )
    for begin, end in week:
        if wall < end:
            return start.astimezone(UTC) if begin <= wall else begin.replace(tzinfo=zone).astimezone(UTC)
    return None


def _lead_of(session: Session, sender_id: str) -> Lead | None:
    lead_id = session.scalar(
        select(Conversation.lead_id)
        .where(Conversation.sender_id == sender_id, Conversation.lead_id.is_not(None))
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    return session.get(Lead, lead_id) if lead_id is not None else None


def _could_take(rep: Rep, language: str, territory: str | None) -> bool:
    covers = not territory or not rep.territories or territory.upper() in rep.territories
    return rep.active and not rep.is_admin and language in rep.languages and covers


def who_can_join(session: Session, sender_id: str, language: str, now: datetime) -> Availability:
    """Who would join conversation ``sender_id`` now, or when the team is back."""
    lead = _lead_of(session, sender_id)
    if lead is not None and lead.assigned_rep is not None:
        rep = lead.assigned_rep
        if on_shift(rep, now):
            return Availability(rep.id, rep.name, None)
        candidates = [rep]
    else:
        territory = lead.territory if lead is not None else None
        language = lead.language if lead is not None else language
        exclude = routing.previous_owners(session, lead) if lead is not None else set()
        pick, _ = routing.choose(session, language, territory, now, exclude)
        if pick is not None:
            return Availability(pick.id, pick.name, None)
        candidates = [
            rep
            for rep in session.scalars(select(Rep).order_by(Rep.id))
            if rep.id not in exclude and _could_take(rep, language, territory)
        ]
    starts = [start for rep in candidates if (start := next_shift_start(rep, now)) is not None]
    back_at = min(starts, default=None)
    return Availability(None, None, back_at if back_at is not None and back_at > now else None)


def join_now(
    session: Session,
    lead_id: int,
    sender_id: str,
    now: datetime,
    cause: str = LIVE_CAUSE,
    by: str = "visitor",
) -> Rep | None:
    """Ask the lead's person to join the chat: the lead is handed to them (routing's pick, or its owner told
    again) with their notifications, and the conversation waits for a person. Returns who, or None when
    nobody could be given it after all (then nothing waits)."""
    rep = lifecycle.hand_to_a_person(session, lead_id, now, cause=cause)
    if rep is not None:
        ownership.ask_for_person(session, sender_id, at=now, by=by)
    return rep


def after_failed_turn(session: Session, sender_id: str, now: datetime) -> Rep | None:
    """A turn failed (the action server or the CRM was down) and the visitor was offered a person: the
    conversation waits for one. With a lead, its person is asked to join as for a visitor who asked (the
    lead's owner, or routing's pick), notified at once; without one there is nobody to tell yet, and the
    conversation waits in the console. Returns who was asked."""
    lead = _lead_of(session, sender_id)
    rep = None
    if lead is not None:
        rep = join_now(session, lead.id, sender_id, now, cause=FAILED_TURN_CAUSE, by=FAILED_TURN_BY)
    if rep is None:
        ownership.ask_for_person(session, sender_id, at=now, by=FAILED_TURN_BY)
    return rep


def wait_minutes() -> float:
    """How long a visitor waits for a person before the bot takes the conversation back."""
    return get_settings().live_wait_minutes


def deadline(since: datetime, minutes: float | None = None) -> datetime:
    return since + timedelta(minutes=wait_minutes() if minutes is None else minutes)


def overdue(session: Session, now: datetime, minutes: float | None = None) -> list[str]:
    """Conversations waiting for a person past their deadline, the longest waiting first."""
    cutoff = now - timedelta(minutes=wait_minutes() if minutes is None else minutes)
    return list(
        session.scalars(
            select(ConversationOwner.sender_id)
            .where(ConversationOwner.owner == Owner.WAITING, ConversationOwner.since <= cutoff)
            .order_by(ConversationOwner.since, ConversationOwner.sender_id)
        )
    )


def stranded(session: Session, now: datetime, minutes: float | None = None) -> list[str]:
    """Conversations a rep owns while off shift or away (``on_shift`` false) whose visitor wrote last and
    has waited at least ``minutes`` (``live_wait_minutes``) since, counted from the take-over at the
    earliest: the owner is not coming, so the bot takes the conversation back. Longest waiting first."""
    cutoff = now - timedelta(minutes=wait_minutes() if minutes is None else minutes)
    found: list[tuple[datetime, str]] = []
    owned = session.scalars(select(ConversationOwner).where(ConversationOwner.owner == Owner.REP)).all()
    for row in owned:
        if row.rep is not None and on_shift(row.rep, now):
            continue
        last = session.execute(
            select(Message.role, Message.sent_at)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .where(Conversation.sender_id == row.sender_id, Message.sent_at >= row.since)
            .order_by(Message.sent_at.desc(), Message.id.desc())
            .limit(1)
        ).first()
        if last is not None and last.role is MessageRole.VISITOR and _utc(last.sent_at) <= cutoff:
            found.append((_utc(last.sent_at), row.sender_id))
    return [sender for _, sender in sorted(found)]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

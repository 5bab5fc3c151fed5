"""Telling reps about the leads handed to them.

``notify_owner`` writes the notifications in the same transaction as the hand-off (an outbox), so a
notification exists exactly when the assignment was committed. A notifier process delivers the Telegram
and e-mail rows later, retrying with exponential backoff; inbox rows are the rep's web inbox itself.

Delivery is at least once: a crash between sending and recording it can repeat a message. What a rep can
do with one is safe to repeat — Accept and Pass act only while the lead is still waiting for that rep —
and a notification whose lead has moved on before delivery is cancelled rather than sent.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from crm_core.config import get_settings
from crm_core.errors import NotFound
from crm_core.models import (
    ConversationOwner,
    Lead,
    Notification,
    NotificationChannel,
    Owner,
    Rep,
    utcnow,
)
from crm_core.outbox import backoff

MAX_BACKOFF = timedelta(minutes=10)


def notify_owner(session: Session, lead: Lead, rep: Rep, reason: str, now: datetime | None = None) -> None:
    """Queue the notifications that tell ``rep`` about ``lead``, on every channel the rep has."""
    now = now or utcnow()
    channels = [NotificationChannel.INBOX]
    if rep.telegram_chat_id is not None:
        channels.append(NotificationChannel.TELEGRAM)
    if rep.email:
        channels.append(NotificationChannel.EMAIL)
    for channel in channels:
        delivered = now if channel is NotificationChannel.INBOX else None
        session.add(
            Notification(
                rep=rep,
                lead=lead,
                channel=channel,
                reason=reason,
                created_at=now,
                next_attempt_at=now,
                delivered_at=delivered,
                attempts=0,
            )
        )


@dataclass(frozen=True)
class LeadCard:
    """What a rep is told about a lead, rendered the same on every channel."""

    notification_id: int
    lead_id: int
    chat_id: int | None
    email: str | None
    subject: str
    text: str


def _card(notification: Notification) -> LeadCard:
    lead, rep = notification.lead, notification.rep
    contact = lead.contact
    conversation = lead.conversations[0] if lead.conversations else None
    who = " · ".join(filter(None, [contact.name or "(no name)", contact.company]))
    reach = " · ".join(filter(None, [contact.email, contact.phone])) or "no contact details"
    reasons = "; ".join(
        f"{r['component']} {r['points']:+d} {r['why']}" for r in lead.reasons if r.get("points")
    )
    base = get_settings().public_web_url.rstrip("/")
    segment = quote(conversation.sender_id, safe="") if conversation else ""  # any sender id: one segment
    link = f"{base}/console/transcripts/{segment}" if conversation else "no transcript"
    live = []
    if conversation is not None and _waits_for_a_person(notification, conversation.sender_id):
        live = [f"The visitor is waiting in the chat: join at {base}/console/live/{segment}"]
    grade = f"{lead.qualification.value.upper()} · {lead.temperature.value} · score {lead.score}/100"
    subject = f"Lead #{lead.id}: {who} — {grade}"
    text = "\n".join(
        [
            f"New lead for you, {rep.name}: #{lead.id}",
            f"{who}",
            f"{reach}",
            grade,
            f"Need: {lead.need or '-'}",
            f"Language: {lead.language} · Source: {lead.source or '-'}",
            f"Why: {reasons or '-'}",
            f"Transcript: {link}",
            *live,
            f"({notification.reason})",
        ]
    )
    return LeadCard(notification.id, lead.id, rep.telegram_chat_id, rep.email, subject, text)


def _waits_for_a_person(notification: Notification, sender_id: str) -> bool:
    session = object_session(notification)
    row = session.get(ConversationOwner, sender_id) if session is not None else None
    return row is not None and row.owner is Owner.WAITING


def claim_due(
    session: Session, channel: NotificationChannel, now: datetime | None = None, limit: int = 50
) -> list[LeadCard]:
    """Due notifications of ``channel``, claimed for one delivery attempt.

    A claimed row is not due again until its lease runs out, so a notifier that dies mid-send retries it
    later rather than never. Notifications whose lead no longer waits for that rep are cancelled.
    """
    now = now or utcnow()
    rows = session.scalars(
        select(Notification)
        .where(
            Notification.channel == channel,
            Notification.delivered_at.is_(None),
            Notification.failed_at.is_(None),
            Notification.next_attempt_at <= now,
        )
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
    ).all()
    cards = []
    lease = timedelta(seconds=get_settings().notify_lease_seconds)
    for row in rows:
        # Accepted since it was written: the rep knows. Written after (the visitor asked for a person on
        # a lead the rep already works): still news.
        accepted = row.lead.accepted_at is not None and row.lead.accepted_at >= row.created_at
        if row.lead.assigned_rep_id != row.rep_id or accepted:
            row.failed_at = now
            row.last_error = "cancelled: the lead no longer waits for this rep"
            continue
        row.attempts += 1
        row.next_attempt_at = now + lease
        cards.append(_card(row))
    session.flush()
    return cards


def mark_sent(session: Session, notification_id: int, external_id: str | None = None) -> None:
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFound(f"No notification with id {notification_id}.")
    row.delivered_at = utcnow()
    row.external_id = external_id
    row.last_error = None


def mark_failed(
    session: Session,
    notification_id: int,
    error: str,
    now: datetime | None = None,
    retry_after: float | None = None,
    permanent: bool = False,
) -> None:
    """Record a failed attempt: try again after ``retry_after`` (when the channel said so) or an
    exponential backoff; give up after the configured number of attempts, or at once when ``permanent``."""
    now = now or utcnow()
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFound(f"No notification with id {notification_id}.")
    settings = get_settings()
    row.last_error = error[:1000]
    if permanent or row.attempts >= settings.notify_max_attempts:
        row.failed_at = now
        return
    row.next_attempt_at = now + (
        timedelta(seconds=retry_after)
        if retry_after is not None
        else backoff(row.attempts, settings.notify_backoff_seconds, MAX_BACKOFF)
    )


@dataclass(frozen=True)
class InboxItem:
    notification_id: int
    lead_id: int
    reason: str
    created_at: datetime
    read: bool
    waiting_in: str | None = None  # the lead's conversation, while its visitor waits there for a person


def _waiting_conversation(notification: Notification) -> str | None:
    conversations = notification.lead.conversations
    sender = conversations[0].sender_id if conversations else None
    return sender if sender is not None and _waits_for_a_person(notification, sender) else None


def inbox(session: Session, rep_id: int) -> list[InboxItem]:
    """A rep's web inbox, newest first; a hand-off whose visitor waits in the chat says where to join."""
    rows = session.scalars(
        select(Notification)
        .where(Notification.rep_id == rep_id, Notification.channel == NotificationChannel.INBOX)
        .order_by(Notification.id.desc())
    )
    return [
        InboxItem(r.id, r.lead_id, r.reason, r.created_at, r.read_at is not None, _waiting_conversation(r))
        for r in rows
    ]


def mark_read(session: Session, rep_id: int, lead_id: int, now: datetime | None = None) -> int:
    """The rep has opened the lead: its hand-offs in their inbox are no longer new. Returns how many."""
    unread = session.scalars(
        select(Notification).where(
            Notification.rep_id == rep_id,
            Notification.lead_id == lead_id,
            Notification.channel == NotificationChannel.INBOX,
            Notification.read_at.is_(None),
        )
    ).all()
    for row in unread:
        row.read_at = now or utcnow()
    return len(unread)


def rep_for_telegram_chat(session: Session, chat_id: int) -> Rep | None:
    return session.scalar(select(Rep).where(Rep.telegram_chat_id == chat_id, Rep.active.is_(True)))

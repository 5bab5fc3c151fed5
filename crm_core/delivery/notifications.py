"""Telling reps about the leads handed to them.

``notify_owner`` writes the notifications in the same transaction as the hand-off (an outbox), so a
notification exists exactly when the assignment was committed. A notifier process delivers the Telegram
and e-mail rows later, retrying with exponential backoff; inbox rows are the rep's web inbox itself.

Delivery is at most once, and never silently short of once. A failed attempt (the channel said no, or
could not be reached) is retried with a capped backoff for as long as it takes; the admins are alerted
(their inbox and the log) when a card has waited ``notify_alert_after_seconds``. The sender records
``sending_at`` just before each send and clears it with the outcome, so a row found still "sending" after
its lease belongs to a sender that stopped mid-send: it may have arrived, so it is not sent again — the
admins are told instead. A notification whose lead has moved on before delivery is cancelled rather than sent.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from crm_core.config import get_settings
from crm_core.delivery.outbox import backoff
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

log = logging.getLogger(__name__)
ALERT = "ADMIN ALERT"  # the marker an operator's log alerting looks for
TELEGRAM_LIMIT = 4096  # characters (UTF-16 code units) in one Telegram message


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
    short_text: str  # the card without need and reasons, should a channel refuse ``text`` as too long
    attempt: int = 0  # which claim of the row this is: only that claim may send it (``mark_sending``)
    buttons: bool = True  # Accept / Pass: a hand-off has them, a task reminder not


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


def fit_need(lines_before: list[str], need: str, lines_after: list[str], full_at: str) -> str:
    """The card's text with the need cut (ending "…", the full text at ``full_at``) so that it fits."""
    whole = "\n".join([*lines_before, f"Need: {need}", *lines_after])
    if telegram_length(whole) <= TELEGRAM_LIMIT:
        return whole
    note = f"… (cut: the whole need is at {full_at})"
    room = TELEGRAM_LIMIT - telegram_length("\n".join([*lines_before, f"Need: {note}", *lines_after]))
    cut = need[: max(room, 0)]
    while telegram_length(cut) > room:  # characters outside the BMP count two
        cut = cut[:-1]
    return "\n".join([*lines_before, f"Need: {cut.rstrip()}{note}", *lines_after])


def _reminder_card(notification: Notification) -> LeadCard:
    rep, base = notification.rep, get_settings().public_web_url.rstrip("/")
    text = f"{notification.reason}\nLead: {base}/console/leads/{notification.lead_id}"
    what = "Meeting" if notification.meeting_id is not None else "Task due"
    subject = f"{what} on lead #{notification.lead_id}"
    return LeadCard(
        notification.id,
        notification.lead_id,
        rep.telegram_chat_id,
        rep.email,
        subject,
        text,
        text,  # short already: a reminder has no need to cut
        notification.attempts,
        buttons=False,
    )


def _card(notification: Notification) -> LeadCard:
    if notification.activity_id is not None or notification.meeting_id is not None:
        return _reminder_card(notification)  # a short note with the lead's link, no Accept / Pass
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
    head = [f"New lead for you, {rep.name}: #{lead.id}", who[:500], reach[:500], grade]
    tail = [f"Transcript: {link}", *live, f"({notification.reason[:500]})"]
    details = [f"Language: {lead.language} · Source: {lead.source or '-'}", f"Why: {reasons or '-'}"]
    text = fit_need(head, lead.need or "-", details + tail, f"{base}/console/leads/{lead.id}")
    short = "\n".join([*head, f"Need and reasons: {base}/console/leads/{lead.id}", *tail])
    return LeadCard(
        notification.id, lead.id, rep.telegram_chat_id, rep.email, subject, text, short, notification.attempts
    )


def _waits_for_a_person(notification: Notification, sender_id: str) -> bool:
    session = object_session(notification)
    row = session.get(ConversationOwner, sender_id) if session is not None else None
    return row is not None and row.owner is Owner.WAITING


def claim_due(
    session: Session, channel: NotificationChannel, now: datetime | None = None, limit: int = 50
) -> list[LeadCard]:
    """Due notifications of ``channel``, claimed for one delivery attempt each.

    A claimed row is not due again until its lease runs out, so another notifier never takes it meanwhile
    (on PostgreSQL the rows are also locked ``SKIP LOCKED`` while claimed); a claimed row whose sender
    died before ``mark_sending`` is retried after the lease. A row still "sending" after the lease is
    ``sent_unknown``. Notifications whose lead no longer waits for that rep are cancelled.
    """
    now = now or utcnow()
    lease = timedelta(seconds=get_settings().notify_lease_seconds)
    open_rows = select(Notification).where(
        Notification.channel == channel,
        Notification.delivered_at.is_(None),
        Notification.failed_at.is_(None),
    )
    stuck = session.scalars(
        open_rows.where(Notification.sending_at <= now - lease).with_for_update(skip_locked=True)
    ).all()
    for row in stuck:
        sent_unknown(session, row, "the notifier stopped while sending it", now)
    rows = session.scalars(
        open_rows.where(Notification.sending_at.is_(None), Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    cards = []
    for row in rows:
        # Accepted since it was written: the rep knows. Written after (the visitor asked for a person on
        # a lead the rep already works): still news.
        accepted = row.lead.accepted_at is not None and row.lead.accepted_at >= row.created_at
        if row.meeting_id is not None:  # news about a meeting, until newer news of it goes to the rep
            stale, why = _superseded(session, row), "newer news of the meeting went to the rep"
        elif row.activity is not None:  # a task reminder: news until the task is done or the lead moves on
            stale = row.activity.done_at is not None or row.lead.assigned_rep_id not in (None, row.rep_id)
            why = "the task is done or the lead is someone else's"
        else:
            stale, why = (
                row.lead.assigned_rep_id != row.rep_id or accepted,
                "the lead no longer waits for this rep",
            )
        if stale:
            row.failed_at = now
            row.last_error = f"cancelled: {why}"
            continue
        row.attempts += 1
        row.next_attempt_at = now + lease
        cards.append(_card(row))
    session.flush()
    return cards


def _superseded(session: Session, row: Notification) -> bool:
    """A later notification of the same meeting to the same rep on the same channel exists (the meeting
    was moved, cancelled or handed on since): only the latest word is sent."""
    newer = select(Notification.id).where(
        Notification.meeting_id == row.meeting_id,
        Notification.rep_id == row.rep_id,
        Notification.channel == row.channel,
        Notification.id > row.id,
    )
    return session.scalar(newer.limit(1)) is not None


def mark_sending(session: Session, card: LeadCard, now: datetime | None = None) -> bool:
    """Recorded (and committed) just before the send itself: from here on a crash means "maybe sent".
    False when the card's claim is no longer the row's (its lease ran out and another notifier claimed
    it again, or it was settled meanwhile): then this notifier must not send it."""
    taken = session.execute(
        update(Notification)
        .where(
            Notification.id == card.notification_id,
            Notification.attempts == card.attempt,
            Notification.sending_at.is_(None),
            Notification.delivered_at.is_(None),
            Notification.failed_at.is_(None),
        )
        .values(sending_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(taken, "rowcount", 0))


def mark_sent(session: Session, notification_id: int, external_id: str | None = None) -> None:
    row = _row(session, notification_id)
    row.delivered_at = utcnow()
    row.sending_at = None
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
    """Record a failed attempt that did not deliver: try again after ``retry_after`` (when the channel
    said so) or a capped exponential backoff, for as long as it takes — the admins are alerted once it
    has waited too long; ``permanent`` (the channel refuses it for good) fails it at once, with an alert."""
    now = now or utcnow()
    row = _row(session, notification_id)
    settings = get_settings()
    row.sending_at = None
    row.last_error = error[:1000]
    if permanent:
        row.failed_at = now
        alert_admins(session, row, f"not delivered: {error}", now)
        return
    cap = timedelta(seconds=settings.notify_backoff_cap_seconds)
    row.next_attempt_at = now + (
        timedelta(seconds=retry_after)
        if retry_after is not None
        else backoff(row.attempts, settings.notify_backoff_seconds, cap)
    )
    waited = (now - row.created_at).total_seconds()
    if row.alerted_at is None and waited >= settings.notify_alert_after_seconds:
        alert_admins(session, row, f"still not delivered after {waited:.0f} s ({error}); still trying", now)


def sent_unknown(session: Session, row: Notification, why: str, now: datetime | None = None) -> None:
    """The send was made but its outcome is unknown: it may have arrived, so it is never sent again (a
    rep must not get a card twice); the admins are told, to check with the rep."""
    now = now or utcnow()
    row.failed_at = now
    row.last_error = f"unknown whether delivered: {why}; not sent again"[:1000]
    alert_admins(session, row, row.last_error, now)


def mark_sent_unknown(session: Session, notification_id: int, why: str) -> None:
    sent_unknown(session, _row(session, notification_id), why)


def alert_admins(session: Session, row: Notification, problem: str, now: datetime) -> None:
    """Tell every active admin (their console inbox) and the log about a notification in trouble."""
    row.alerted_at = now
    what = f"{row.channel.value} notification {row.id} (lead #{row.lead_id} for rep {row.rep_id})"
    log.error("%s: %s %s", ALERT, what, problem)
    for admin in session.scalars(select(Rep).where(Rep.is_admin.is_(True), Rep.active.is_(True))):
        session.add(
            Notification(
                rep=admin,
                lead_id=row.lead_id,
                channel=NotificationChannel.INBOX,
                reason=f"⚠ {what}: {problem}"[:1000],
                created_at=now,
                next_attempt_at=now,
                delivered_at=now,
                attempts=0,
            )
        )


def _row(session: Session, notification_id: int) -> Notification:
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFound(f"No notification with id {notification_id}.")
    return row


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

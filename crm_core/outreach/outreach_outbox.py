"""The outbox of messages to contacts (``Outreach`` rows written by ``crm_core.outreach.winback``), as the rep
notifications' outbox: ``claim_due`` (a lease; one found still "sending" after it may have gone out and is
never sent again), ``mark_sending`` (committed before the send; refused once an unsubscribe or an erasure
came in between), ``mark_sent`` (an activity on the lead, with the text), ``mark_failed`` (backoff, given up
after ``MAX_ATTEMPTS``). The sending itself is ``bot.notify.outreach``'s."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_core.config import get_settings
from crm_core.db import author_of
from crm_core.delivery.outbox import backoff
from crm_core.models import Activity, ActivityKind, Outreach, OutreachKind, utcnow
from crm_core.outreach.outreach_texts import EMAIL, TELEGRAM, unsubscribe_link

MAX_ATTEMPTS = 10  # then a message is given up (the rep's task stands)


@dataclass(frozen=True)
class OutreachMessage:
    outreach_id: int
    lead_id: int
    kind: OutreachKind
    channel: str
    address: str
    subject: str
    text: str
    unsubscribe: str  # the message's unsubscribe link (an e-mail's List-Unsubscribe too)
    attempt: int


def _cancel_reason(row: Outreach) -> str | None:
    if row.lead.contact.unsubscribed_at is not None:
        return "cancelled: the contact unsubscribed"
    if not row.lead.consent:
        return "cancelled: no consent on record"
    return None


def claim_due(
    session: Session, channel: str, now: datetime | None = None, limit: int = 20
) -> list[OutreachMessage]:
    """Due messages of ``channel``, each claimed for one attempt (not due again until the lease ends); one
    found still "sending" after its lease may have gone out: it is never sent again."""
    now = now or utcnow()
    lease = timedelta(seconds=get_settings().notify_lease_seconds)
    pending = select(Outreach).where(
        Outreach.channel == channel, Outreach.delivered_at.is_(None), Outreach.failed_at.is_(None)
    )
    for stuck in session.scalars(
        pending.where(Outreach.sending_at <= now - lease).with_for_update(skip_locked=True)
    ):
        stuck.failed_at, stuck.last_error = (
            now,
            "unknown whether delivered: the sender stopped; not sent again",
        )
    rows = session.scalars(
        pending.where(Outreach.sending_at.is_(None), Outreach.next_attempt_at <= now)
        .order_by(Outreach.next_attempt_at, Outreach.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for row in rows:
        cancelled = _cancel_reason(row)
        if cancelled or row.address is None:
            row.failed_at, row.last_error = now, cancelled or "cancelled: no address"
            continue
        row.attempts += 1
        row.next_attempt_at = now + lease
        claimed.append(
            OutreachMessage(
                row.id,
                row.lead_id,
                row.kind,
                row.channel,
                row.address,
                row.subject,
                row.text,
                unsubscribe_link(row.token),
                row.attempts,
            )
        )
    session.flush()
    return claimed


def mark_sending(session: Session, message: OutreachMessage, now: datetime | None = None) -> bool:
    """Committed just before the send: False when this claim is no longer the row's (its lease ran out and
    it was claimed again, it was cancelled by an unsubscribe, or erased): then it must not be sent."""
    row = session.get(Outreach, message.outreach_id)
    if row is None or _cancel_reason(row) is not None:
        return False
    taken = session.execute(
        update(Outreach)
        .where(
            Outreach.id == message.outreach_id,
            Outreach.attempts == message.attempt,
            Outreach.sending_at.is_(None),
            Outreach.delivered_at.is_(None),
            Outreach.failed_at.is_(None),
        )
        .values(sending_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(taken, "rowcount", 0))


def mark_sent(session: Session, outreach_id: int, now: datetime | None = None) -> None:
    """Delivered: the send is an activity on the lead, with its text."""
    now = now or utcnow()
    row = session.get(Outreach, outreach_id)
    if row is None:
        return  # erased meanwhile
    row.delivered_at, row.sending_at, row.last_error = now, None, None
    what = "Win-back" if row.kind is OutreachKind.WINBACK else f"Nurture message {row.step + 1}"
    where = "on Telegram" if row.channel == TELEGRAM else f"by e-mail to {row.address}"
    session.add(
        Activity(
            lead_id=row.lead_id,
            kind=ActivityKind.EMAIL if row.channel == EMAIL else ActivityKind.NOTE,
            body=f"{what} message sent {where}: {row.text}",
            created_at=now,
            made_by=author_of(session),
        )
    )


def mark_failed(
    session: Session, outreach_id: int, error: str, now: datetime | None = None, permanent: bool = False
) -> None:
    """A send that did not go: tried again after a backoff; given up when permanent or after MAX_ATTEMPTS."""
    now = now or utcnow()
    row = session.get(Outreach, outreach_id)
    if row is None:
        return
    row.sending_at, row.last_error = None, error[:2000]
    if permanent or row.attempts >= MAX_ATTEMPTS:
        row.failed_at = now
        return
    settings = get_settings()
    cap = timedelta(seconds=settings.notify_backoff_cap_seconds)
    row.next_attempt_at = now + backoff(row.attempts, settings.notify_backoff_seconds, cap)


def mark_sent_unknown(session: Session, outreach_id: int, why: str, now: datetime | None = None) -> None:
    """The send was made but its outcome is unknown: never sent again (a contact must not get it twice)."""
    row = session.get(Outreach, outreach_id)
    if row is not None:
        row.failed_at, row.sending_at = now or utcnow(), None
        row.last_error = f"unknown whether delivered: {why}; not sent again"[:2000]

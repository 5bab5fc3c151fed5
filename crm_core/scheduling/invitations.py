"""The visitor's calendar invitations: an e-mail with an ``.ics`` (iCalendar) for each booking, move and
cancellation, in the visitor's language and time zone, with the link to move or cancel the meeting.

Written as an outbox row in the transaction that changed the meeting (``queue``); the notifier claims,
sends and marks them (``claim_due``, ``mark_sent``, ``mark_failed``). Delivery is at least once: a resent
invitation carries the same UID and SEQUENCE, which calendars take as the same one. An invitation that a
newer change of its meeting superseded before it went out is not sent.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from icalendar import Calendar, Event, vCalAddress, vText
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.config import get_settings
from crm_core.delivery.outbox import backoff
from crm_core.models import Invitation, Meeting, MeetingStatus, utcnow

MAX_ATTEMPTS = 10  # then the invitation is given up (the chat's confirmation and the link still stand)
PRODID = "-//Embudo//Meetings//EN"


def link(meeting: Meeting) -> str:
    """The visitor's page to move or cancel the meeting."""
    return f"{get_settings().public_web_url.rstrip('/')}/meetings/{meeting.link_token}"


def queue(session: Session, meeting: Meeting, now: datetime) -> None:
    """The invitation for the meeting as it now is, when the visitor gave an e-mail address."""
    email = meeting.lead.contact.email
    if not email:
        return
    cancelled = meeting.status is MeetingStatus.CANCELLED
    session.add(
        Invitation(
            meeting=meeting,
            email=email,
            method="CANCEL" if cancelled else "REQUEST",
            sequence=meeting.sequence,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            created_at=now,
            next_attempt_at=now,
            attempts=0,
        )
    )


_TEXTS = {
    "en": {
        "REQUEST": "Your meeting with {rep}: {when}",
        "CANCEL": "Cancelled: your meeting with {rep} on {when}",
        "body": "{subject}\n\nTo move or cancel it: {link}\n",
        "cancelled": "{subject}\n\nTo book another time: {link}\n",
    },
    "es": {
        "REQUEST": "Tu reunión con {rep}: {when}",
        "CANCEL": "Cancelada: tu reunión con {rep} del {when}",
        "body": "{subject}\n\nPara cambiarla o cancelarla: {link}\n",
        "cancelled": "{subject}\n\nPara reservar otra hora: {link}\n",
    },
}


def when_text(moment: datetime, timezone: str, language: str) -> str:
    """``moment`` in the visitor's zone and words: "Thursday, December 3, 2026, 10:00 (Europe/Madrid)"."""
    locale = language if language in _TEXTS else "en"
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{format_date(local, 'full', locale=locale)}, {local:%H:%M} ({timezone})"


def ics(invitation: Invitation, now: datetime) -> bytes:
    """The iCalendar file of one invitation: METHOD REQUEST or CANCEL, the meeting's UID and SEQUENCE."""
    meeting = invitation.meeting
    rep, lead = meeting.rep, meeting.lead
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", invitation.method)
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", invitation.sequence)
    event.add("dtstamp", now)
    event.add("dtstart", invitation.starts_at)
    event.add("dtend", invitation.ends_at)
    event.add("summary", f"{rep.name} · {lead.contact.name or lead.contact.email}")
    event.add("description", f"{link(meeting)}")
    event.add("url", link(meeting))
    event.add("status", "CANCELLED" if invitation.method == "CANCEL" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{rep.email or get_settings().smtp_from}")
    organizer.params["cn"] = vText(rep.name)
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{invitation.email}")
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["rsvp"] = vText("FALSE")
    event.add("attendee", attendee)
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data


@dataclass(frozen=True)
class InvitationMail:
    invitation_id: int
    to: str
    subject: str
    text: str
    method: str
    ics: bytes


def _mail(invitation: Invitation, now: datetime) -> InvitationMail:
    meeting = invitation.meeting
    texts = _TEXTS.get(meeting.lead.language, _TEXTS["en"])
    when = when_text(invitation.starts_at, meeting.visitor_timezone, meeting.lead.language)
    subject = texts[invitation.method].format(rep=meeting.rep.name, when=when)
    body = texts["cancelled" if invitation.method == "CANCEL" else "body"]
    text = body.format(subject=subject, link=link(meeting))
    return InvitationMail(
        invitation.id, invitation.email, subject, text, invitation.method, ics(invitation, now)
    )


def claim_due(session: Session, now: datetime | None = None, limit: int = 20) -> list[InvitationMail]:
    """Due invitations, each claimed for one attempt (not due again until the lease ends)."""
    now = now or utcnow()
    lease = timedelta(seconds=get_settings().notify_lease_seconds)
    rows = session.scalars(
        select(Invitation)
        .where(
            Invitation.delivered_at.is_(None),
            Invitation.failed_at.is_(None),
            Invitation.next_attempt_at <= now,
        )
        .order_by(Invitation.next_attempt_at, Invitation.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    mails = []
    for row in rows:
        if row.sequence < row.meeting.sequence:
            row.failed_at, row.last_error = now, "superseded: the meeting changed again before it was sent"
            continue
        row.attempts += 1
        row.next_attempt_at = now + lease
        mails.append(_mail(row, now))
    session.flush()
    return mails


def mark_sent(session: Session, invitation_id: int, now: datetime | None = None) -> None:
    row = session.get(Invitation, invitation_id)
    if row is not None:
        row.delivered_at, row.last_error = now or utcnow(), None


def mark_failed(session: Session, invitation_id: int, error: str, now: datetime | None = None) -> None:
    """A failed send: tried again after a backoff, given up after ``MAX_ATTEMPTS``."""
    now = now or utcnow()
    row = session.get(Invitation, invitation_id)
    if row is None:
        return
    row.last_error = error[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        row.failed_at = now
        return
    settings = get_settings()
    cap = timedelta(seconds=settings.notify_backoff_cap_seconds)
    row.next_attempt_at = now + backoff(row.attempts, settings.notify_backoff_seconds, cap)

"""Meetings of a lead with its rep: the slots to offer, booking, moving, handing to another rep, cancelling.

A booking is one transaction: the meeting, an activity in the lead's history, and the rep's notifications
(the outbox of ``crm_core.delivery.notifications``). It first takes the rep's row for writing (a row lock on
PostgreSQL, the database's write lock on SQLite), so two bookings of one rep run one after the other and
the second sees the first; a partial unique index (one booked meeting per rep and start) backs that up.
Slot rules live in ``crm_core.scheduling.slots``; this module reads the rep's calendar and writes the rows.
The busy times of the rep's own calendar, if they have one, come through ``crm_core.scheduling.calendars``; a
booking reads them before it takes the rep's row, so a slow calendar server never holds that lock.
"""

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from uuid import uuid4
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_core.config import get_settings
from crm_core.db import author_of
from crm_core.errors import CrmError, InvalidInput, NotFound
from crm_core.models import (
    Activity,
    ActivityKind,
    Lead,
    Meeting,
    MeetingStatus,
    Notification,
    NotificationChannel,
    Rep,
    utcnow,
)
from crm_core.scheduling import calendars, invitations
from crm_core.scheduling.slots import Calendar, Pick, SlotRules, all_free, fits, nearest, offer


class SlotTaken(CrmError):
    """The slot is no longer free (another booking took it, or it never was)."""


@dataclass(frozen=True)
class MeetingOut:
    id: int
    lead_id: int
    rep_id: int
    starts_at: datetime
    ends_at: datetime
    status: str
    visitor_timezone: str
    uid: str
    sequence: int


def _out(meeting: Meeting) -> MeetingOut:
    return MeetingOut(
        meeting.id,
        meeting.lead_id,
        meeting.rep_id,
        meeting.starts_at,
        meeting.ends_at,
        meeting.status.value,
        meeting.visitor_timezone,
        meeting.uid,
        meeting.sequence,
    )


def rules() -> SlotRules:
    """The booking settings (``EMBUDO_MEETING_*``)."""
    settings = get_settings()
    return SlotRules(
        length=timedelta(minutes=settings.meeting_minutes),
        step=timedelta(minutes=settings.meeting_step_minutes),
        lead_time=timedelta(minutes=settings.meeting_lead_minutes),
        horizon=timedelta(days=settings.meeting_horizon_days),
        offered=settings.meeting_slots_offered,
        per_day=settings.meeting_slots_per_day,
    )


def calendar_of(
    session: Session,
    rep: Rep,
    now: datetime,
    ignore: int | None = None,
    elsewhere: Sequence[tuple[datetime, datetime]] = (),
) -> Calendar:
    """The rep's hours, away time and booked meetings from now on (``ignore``: a meeting being moved),
    and ``elsewhere``: the busy times of their own calendar (``_elsewhere``)."""
    busy = session.execute(
        select(Meeting.starts_at, Meeting.ends_at).where(
            Meeting.rep_id == rep.id,
            Meeting.status == MeetingStatus.BOOKED,
            Meeting.ends_at > now,
            Meeting.id != (ignore or 0),
        )
    ).all()
    return Calendar(
        rep.timezone, rep.working_hours, rep.away_until, [(s, e) for s, e in busy] + list(elsewhere)
    )


def _elsewhere(session: Session, rep: Rep, lead_id: int, now: datetime) -> list[tuple[datetime, datetime]]:
    """The busy times of the rep's own calendar over every slot an offer may hold (none without one)."""
    slot_rules = rules()
    until = now + slot_rules.horizon + slot_rules.length
    return calendars.busy_elsewhere(session, rep, lead_id, now, until, now)


def _lead_and_rep(session: Session, lead_id: int) -> tuple[Lead, Rep]:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.")
    if lead.assigned_rep is None:
        raise InvalidInput("This lead has no rep yet: a meeting is booked with the lead's rep.")
    return lead, lead.assigned_rep


def offer_slots(
    session: Session, lead_id: int, now: datetime | None = None, after: datetime | None = None
) -> list[datetime]:
    """The free slots (UTC) of the lead's rep to offer (``after``: the next ones, for "other times")."""
    now = now or utcnow()
    _, rep = _lead_and_rep(session, lead_id)
    elsewhere = _elsewhere(session, rep, lead_id, now)
    return offer(calendar_of(session, rep, now, elsewhere=elsewhere), now, rules(), after)


def move_options(session: Session, meeting_id: int, now: datetime | None = None) -> list[datetime]:
    """Free slots of the meeting's rep it could move to (its own time counts as free)."""
    now = now or utcnow()
    meeting = _booked(session, meeting_id)
    elsewhere = _elsewhere(session, meeting.rep, meeting.lead_id, now)
    return offer(calendar_of(session, meeting.rep, now, meeting.id, elsewhere), now, rules())


def slot_near(
    session: Session, lead_id: int, wanted_from: datetime, wanted_to: datetime, now: datetime | None = None
) -> Pick:
    """The rep's free slot inside the wished time, else the nearest one (``Pick.exact`` says which)."""
    now = now or utcnow()
    _, rep = _lead_and_rep(session, lead_id)
    elsewhere = _elsewhere(session, rep, lead_id, now)
    return nearest(calendar_of(session, rep, now, elsewhere=elsewhere), now, rules(), wanted_from, wanted_to)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone (a lookup, never a path: "Europe" is a folder of zones)."""
    if name not in _zones():
        raise InvalidInput(f"Unknown time zone '{name[:64]}': use one like Europe/Madrid.", "timezone")
    return name


def _take_rep(session: Session, rep_id: int) -> None:
    """Bookings of one rep one at a time, until this transaction ends (see the module docstring)."""
    session.execute(update(Rep).where(Rep.id == rep_id).values(id=Rep.id))


def _is_free(
    session: Session,
    rep: Rep,
    starts_at: datetime,
    now: datetime,
    ignore: int | None,
    elsewhere: Sequence[tuple[datetime, datetime]] = (),
) -> bool:
    calendar = calendar_of(session, rep, now, ignore, elsewhere)
    # the slot must still be one the rules offer: hours, lead time, away, other meetings
    return any(s == starts_at for s in all_free(calendar, now, rules()))


def when_for(meeting: Meeting, rep: Rep) -> str:
    """The meeting's start in ``rep``'s zone, as reps are told it: "Tue 01 Dec 2026 10:00 (Europe/Madrid)"."""
    local = meeting.starts_at.astimezone(ZoneInfo(rep.timezone))
    return f"{local:%a %d %b %Y %H:%M} ({rep.timezone})"


def record(session: Session, meeting: Meeting, body: str, now: datetime) -> None:
    """The change in the lead's history."""
    session.add(
        Activity(
            lead_id=meeting.lead_id,
            rep_id=meeting.rep_id,
            kind=ActivityKind.MEETING,
            body=body,
            created_at=now,
            made_by=author_of(session),
        )
    )


def _tell_rep(session: Session, meeting: Meeting, what: str, now: datetime) -> None:
    """The rep's notifications about ``meeting`` (inbox, Telegram, e-mail) and the lead's history entry."""
    reason = f"Meeting {what} with lead #{meeting.lead_id}: {when_for(meeting, meeting.rep)}"
    record(session, meeting, reason, now)
    notify_about(session, meeting, meeting.rep, reason, now)


def notify_about(session: Session, meeting: Meeting, rep: Rep, reason: str, now: datetime) -> None:
    """Tell ``rep`` ``reason`` about ``meeting`` on each channel they have (inbox, Telegram, e-mail)."""
    channels = [NotificationChannel.INBOX]
    if rep.telegram_chat_id is not None:
        channels.append(NotificationChannel.TELEGRAM)
    if rep.email:
        channels.append(NotificationChannel.EMAIL)
    for channel in channels:
        session.add(
            Notification(
                rep=rep,
                lead_id=meeting.lead_id,
                meeting=meeting,
                channel=channel,
                reason=reason,
                created_at=now,
                next_attempt_at=now,
                delivered_at=now if channel is NotificationChannel.INBOX else None,
                attempts=0,
            )
        )


def _flush_or_taken(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError:  # the unique index: the caller's unit of work rolls everything back
        raise SlotTaken("That time was just taken: please pick another.") from None


def book(
    session: Session,
    lead_id: int,
    starts_at: datetime,
    visitor_timezone: str = "UTC",
    now: datetime | None = None,
) -> MeetingOut:
    """Book the lead's rep at ``starts_at`` (UTC, one of the offered slots) and tell the rep."""
    now = now or utcnow()
    if starts_at.tzinfo is None:
        raise InvalidInput("A meeting time must carry a time zone (UTC).", "starts_at")
    check_timezone(visitor_timezone)
    lead, rep = _lead_and_rep(session, lead_id)
    elsewhere = _elsewhere(session, rep, lead_id, now)  # before the lock: see the module docstring
    _take_rep(session, rep.id)
    if not _is_free(session, rep, starts_at, now, None, elsewhere):
        raise SlotTaken("That time is not free for the rep: please pick another.")
    meeting = Meeting(
        lead=lead,
        rep=rep,
        starts_at=starts_at,
        ends_at=starts_at + rules().length,
        status=MeetingStatus.BOOKED,
        visitor_timezone=visitor_timezone,
        uid=f"{uuid4()}@embudo",
        sequence=0,
        created_at=now,
        made_by=author_of(session),
        link_token=secrets.token_urlsafe(32),
    )
    session.add(meeting)
    _flush_or_taken(session)
    _tell_rep(session, meeting, "booked", now)
    invitations.queue(session, meeting, now)
    session.flush()
    return _out(meeting)


def _booked(session: Session, meeting_id: int, lead_id: int | None = None) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or (lead_id is not None and meeting.lead_id != lead_id):
        raise NotFound(f"No meeting with id {meeting_id}" + (f" on lead {lead_id}." if lead_id else "."))
    if meeting.status is not MeetingStatus.BOOKED:
        raise InvalidInput("This meeting was cancelled already.")
    return meeting


def cancel(
    session: Session, meeting_id: int, lead_id: int | None = None, now: datetime | None = None
) -> MeetingOut:
    """Cancel a booked meeting: its slot is free again, the rep is told, the change is in the history."""
    now = now or utcnow()
    meeting = _booked(session, meeting_id, lead_id)
    meeting.status = MeetingStatus.CANCELLED
    meeting.cancelled_at = now
    meeting.sequence += 1
    session.flush()
    _tell_rep(session, meeting, "cancelled", now)
    invitations.queue(session, meeting, now)
    session.flush()
    return _out(meeting)


def reschedule(
    session: Session,
    meeting_id: int,
    starts_at: datetime,
    lead_id: int | None = None,
    now: datetime | None = None,
) -> MeetingOut:
    """Move a booked meeting to another free slot of its rep (same UID, next SEQUENCE)."""
    now = now or utcnow()
    if starts_at.tzinfo is None:
        raise InvalidInput("A meeting time must carry a time zone (UTC).", "starts_at")
    meeting = _booked(session, meeting_id, lead_id)
    elsewhere = _elsewhere(session, meeting.rep, meeting.lead_id, now)  # before the lock
    _take_rep(session, meeting.rep_id)
    if not _is_free(session, meeting.rep, starts_at, now, meeting.id, elsewhere):
        raise SlotTaken("That time is not free for the rep: please pick another.")
    meeting.starts_at = starts_at
    meeting.ends_at = starts_at + rules().length
    meeting.sequence += 1
    _flush_or_taken(session)
    _tell_rep(session, meeting, "moved", now)
    invitations.queue(session, meeting, now)
    session.flush()
    return _out(meeting)


def is_free_for(session: Session, rep: Rep, meeting: Meeting, now: datetime) -> bool:
    """Whether ``rep`` could hold ``meeting`` at its time: in their hours, not away, no other meeting, not
    busy in their own calendar (read once by ``meeting_moves`` before the lock, then from its cache)."""
    starts, ends = meeting.starts_at, meeting.ends_at
    elsewhere = calendars.busy_elsewhere(session, rep, meeting.lead_id, starts, ends, now)
    return fits(calendar_of(session, rep, now, meeting.id, elsewhere), starts, ends)


def hand_over(session: Session, meeting: Meeting, rep: Rep, why: str, now: datetime) -> MeetingOut:
    """Give a booked meeting to ``rep`` at the same time (same UID, next SEQUENCE: the visitor gets an
    invitation naming the new rep); both reps are told and the lead's history says ``why``."""
    if meeting.status is not MeetingStatus.BOOKED:
        raise InvalidInput("This meeting was cancelled already.")
    _take_rep(session, rep.id)
    if not is_free_for(session, rep, meeting, now):
        raise SlotTaken(f"{rep.name} is not free at that time.")
    was = meeting.rep
    meeting.rep = rep
    meeting.sequence += 1
    session.flush()
    said = f"Meeting with lead #{meeting.lead_id} handed from {was.name} to {rep.name} ({why})"
    record(session, meeting, f"{said}: {when_for(meeting, rep)}", now)
    notify_about(session, meeting, rep, f"{said}: {when_for(meeting, rep)}", now)
    if was.active:  # someone who left is not written to
        notify_about(session, meeting, was, f"{said}: {when_for(meeting, was)}", now)
    invitations.queue(session, meeting, now)
    session.flush()
    return _out(meeting)


def by_link(session: Session, token: str) -> MeetingOut:
    """The meeting a visitor's link names (the token is the only key the visitor holds)."""
    meeting = session.scalar(select(Meeting).where(Meeting.link_token == token)) if token else None
    if meeting is None:
        raise NotFound("This link does not name a meeting: it may be mistyped.")
    return _out(meeting)


def of_lead(session: Session, lead_id: int) -> list[MeetingOut]:
    """The lead's meetings, soonest first (cancelled ones too: they are history)."""
    if session.get(Lead, lead_id) is None:
        raise NotFound(f"No lead with id {lead_id}.")
    rows = session.scalars(
        select(Meeting).where(Meeting.lead_id == lead_id).order_by(Meeting.starts_at, Meeting.id)
    )
    return [_out(m) for m in rows]


def upcoming(session: Session, rep_id: int, now: datetime | None = None, limit: int = 20) -> list[MeetingOut]:
    """The rep's booked meetings not yet over, soonest first: the console inbox shows them."""
    now = now or utcnow()
    rows = session.scalars(
        select(Meeting)
        .where(Meeting.rep_id == rep_id, Meeting.status == MeetingStatus.BOOKED, Meeting.ends_at > now)
        .order_by(Meeting.starts_at)
        .limit(limit)
    )
    return [_out(m) for m in rows]

"""Sales reps: the people leads are handed to."""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.assignment import sla
from crm_core.errors import InvalidInput, NotFound
from crm_core.models import OPEN_STAGES, Lead, Quota, Rep, utcnow
from crm_core.money import ISO_4217
from crm_core.people.working_hours import WEEKDAYS, clock
from crm_core.scheduling import meeting_moves
from crm_core.schemas import NewRep, RepOut, RepUpdate


def add_rep(session: Session, new_rep: NewRep) -> RepOut:
    rep = Rep(
        name=new_rep.name,
        languages=new_rep.languages,
        telegram_chat_id=new_rep.telegram_chat_id,
        email=new_rep.email,
        capacity=new_rep.capacity,
        active=True,
        territories=new_rep.territories,
        timezone=new_rep.timezone,
        working_hours=new_rep.working_hours,
        is_admin=new_rep.is_admin,
    )
    session.add(rep)
    session.flush()
    picked_up = sla.pick_up_queue(session)  # a new rep may be the one the queue was waiting for
    return RepOut.model_validate(rep).model_copy(
        update={"open_leads": open_lead_counts(session).get(rep.id, 0), "picked_up": picked_up}
    )


def open_lead_counts(session: Session) -> dict[int, int]:
    """Open (not won or lost) leads per rep: the load that routing balances, read from the counters."""
    rows = session.execute(select(Rep.id, Rep.open_leads).where(Rep.open_leads != 0))
    return {rep_id: count for rep_id, count in rows}


def recount_open_leads(session: Session) -> dict[int, int]:
    """The same figures counted from the leads themselves: what the counters must always equal."""
    rows = session.execute(
        select(Lead.assigned_rep_id, func.count())
        .where(Lead.assigned_rep_id.is_not(None), Lead.stage.in_(OPEN_STAGES))
        .group_by(Lead.assigned_rep_id)
    )
    return {rep_id: count for rep_id, count in rows if rep_id is not None}


def list_reps(session: Session) -> list[RepOut]:
    loads = open_lead_counts(session)
    reps = session.scalars(select(Rep).order_by(Rep.id))
    return [
        RepOut.model_validate(rep).model_copy(update={"open_leads": loads.get(rep.id, 0)}) for rep in reps
    ]


def set_quota(
    session: Session, rep_id: int, period_start: date, period_end: date, amount: Decimal, currency: str
) -> Quota:
    """Set (or replace) a rep's goal for a period; goal attainment is measured against it."""
    if session.get(Rep, rep_id) is None:
        raise NotFound(f"No rep with id {rep_id}.")
    if period_end <= period_start:
        raise InvalidInput("A quota period must end after it starts.")
    if amount <= 0:
        raise InvalidInput("A quota must be a positive amount.")
    currency = currency.upper()
    if currency not in ISO_4217:
        raise InvalidInput(f"'{currency}' is not an ISO 4217 currency code (like EUR, USD, GBP, MXN).")
    quota = session.scalar(
        select(Quota).where(
            Quota.rep_id == rep_id, Quota.period_start == period_start, Quota.currency == currency
        )
    )
    if quota is None:
        quota = Quota(rep_id=rep_id, period_start=period_start, currency=currency)
        session.add(quota)
    quota.period_end = period_end
    quota.amount = amount
    session.flush()
    return quota


def update_rep(session: Session, rep_id: int, changes: RepUpdate, now: datetime | None = None) -> RepOut:
    """Change a rep's languages, capacity, territories, hours, availability, active flag or calendar. A
    rep made inactive, or away for longer, has their booked meetings of that time handed on
    (``meeting_moves``)."""
    now = now or utcnow()
    rep = session.get(Rep, rep_id)
    if rep is None:
        raise NotFound(f"No rep with id {rep_id}.")
    was_active, was_away_until = rep.active, rep.away_until
    for field in ("languages", "capacity", "active", "territories", "timezone", "working_hours", "is_admin"):
        value = getattr(changes, field)
        if value is not None:
            setattr(rep, field, value)
    if changes.clear_away:
        rep.away_until = None
    elif changes.away_until is not None:
        rep.away_until = changes.away_until
    _set_calendar(rep, changes)
    session.flush()
    if was_active and not rep.active:
        meeting_moves.cover_for(session, rep, now)
    elif rep.active and rep.away_until is not None and rep.away_until != was_away_until:
        # only the newly away time: meetings of an earlier stretch were handed on (or asked about) then
        already = was_away_until if was_away_until is not None and was_away_until > now else now
        meeting_moves.cover_for(session, rep, now, since=already, until=rep.away_until)
    # back from away, active again, more room or hours: the queue need not wait for the notifier's next round
    picked_up = sla.pick_up_queue(session, now)
    return RepOut.model_validate(rep).model_copy(
        update={"open_leads": open_lead_counts(session).get(rep.id, 0), "picked_up": picked_up}
    )


def _set_calendar(rep: Rep, changes: RepUpdate) -> None:
    """The rep's CalDAV calendar: cleared, or the parts given set (a new one is read afresh)."""
    if changes.clear_caldav:
        rep.caldav_url = rep.caldav_username = rep.caldav_password = None
        rep.caldav_failing_since = None
        return
    given = {
        "caldav_url": changes.caldav_url,
        "caldav_username": changes.caldav_username,
        "caldav_password": changes.caldav_password,
    }
    if all(value is None for value in given.values()):
        return
    for field, value in given.items():
        if value is not None:
            setattr(rep, field, value or None)
    if rep.caldav_url is None:
        raise InvalidInput("A calendar user or password needs the calendar's address (--caldav-url).")
    rep.caldav_failing_since = None  # changed: the next offer tries it and tells the rep if it fails


def back_on(day: str, timezone: str) -> datetime:
    """When a rep who is away is back: the start of ``day`` (YYYY-MM-DD) in the rep's time zone."""
    try:
        return datetime.combine(date.fromisoformat(day.strip()), time(), tzinfo=ZoneInfo(timezone))
    except ValueError:
        raise InvalidInput(f"'Away until' must be a date like 2026-12-31, not '{day}'.") from None
    except ZoneInfoNotFoundError:
        raise InvalidInput(f"Unknown time zone '{timezone}'.") from None


def parse_hours(text: str) -> dict[str, list[str]]:
    """Working hours from ``mon-fri=09:00-17:00,sat=10:00-13:00`` (days not named are off; ``9:00`` is read as
    09:00; ``22:00-06:00`` crosses midnight)."""
    hours: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        days, _, span = part.partition("=")
        start, _, end = span.partition("-")
        first, _, last = days.strip().lower().partition("-")
        if first[:3] not in WEEKDAYS or (last and last[:3] not in WEEKDAYS) or not (start and end):
            raise InvalidInput(f"Cannot read hours '{part}': write them like mon-fri=09:00-17:00.")
        i, j = WEEKDAYS.index(first[:3]), WEEKDAYS.index((last or first)[:3])
        for day in WEEKDAYS[i : j + 1]:
            hours[day] = [clock(start).strftime("%H:%M"), clock(end).strftime("%H:%M")]
    return hours

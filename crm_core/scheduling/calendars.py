"""A rep's own calendar (optional): the seam through which its busy times reach slot finding.

crm_core never reads a calendar over the network. A process that may (the action server, the web app)
installs a reader at start (``use``): a function from a rep's calendar and a time range to its busy
intervals, which raises ``CalendarUnavailable`` when the calendar cannot be reached or refuses the
credentials. Without a reader, or for a rep without a calendar, Embudo's own meetings and the rep's
working hours are the whole calendar. A calendar that cannot be read never stops an offer or a booking:
its busy times are left out, the failure is logged, and the rep gets one inbox notification per outage
(``Rep.caldav_failing_since`` is set with the first failure and cleared by the next success).
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from crm_core.models import Notification, NotificationChannel, Rep

log = logging.getLogger(__name__)

Interval = tuple[datetime, datetime]  # [start, end) in UTC


@dataclass(frozen=True)
class RepCalendar:
    """What a reader needs to read one rep's calendar."""

    rep_id: int
    url: str
    username: str | None
    password: str | None
    timezone: str  # all-day and floating events are days and wall times of the rep's zone


class CalendarUnavailable(Exception):
    """The calendar could not be read (unreachable, timed out, refused the credentials, not a calendar)."""


Reader = Callable[[RepCalendar, datetime, datetime], Sequence[Interval]]

_reader: Reader | None = None


def use(reader: Reader | None) -> None:
    """Read reps' calendars with ``reader`` in this process from now on (None: read none)."""
    global _reader
    _reader = reader


def calendar_of(rep: Rep) -> RepCalendar | None:
    if not rep.caldav_url:
        return None
    return RepCalendar(rep.id, rep.caldav_url, rep.caldav_username, rep.caldav_password, rep.timezone)


def busy_elsewhere(
    session: Session, rep: Rep, lead_id: int, start: datetime, end: datetime, now: datetime
) -> list[Interval]:
    """The rep's busy times in [start, end) from their own calendar; none if it has none or cannot be
    read (then the rep is told once, about ``lead_id``, whose offer found it out)."""
    calendar = calendar_of(rep)
    if calendar is None or _reader is None:
        return []
    try:
        busy = list(_reader(calendar, start, end))
    except CalendarUnavailable as error:
        log.warning("The calendar of rep %s cannot be read: %s", rep.id, error)
        _tell_once(session, rep, lead_id, str(error), now)
        return []
    if rep.caldav_failing_since is not None:
        rep.caldav_failing_since = None  # back: the next outage is told again
    return busy


def _tell_once(session: Session, rep: Rep, lead_id: int, why: str, now: datetime) -> None:
    # A conditional update, so two offers failing at once still tell the rep once.
    first = session.execute(
        update(Rep)
        .where(Rep.id == rep.id, Rep.caldav_failing_since.is_(None))
        .values(caldav_failing_since=now)
        .execution_options(synchronize_session="fetch")
    )
    if not getattr(first, "rowcount", 0):
        return
    session.add(
        Notification(
            rep=rep,
            lead_id=lead_id,
            channel=NotificationChannel.INBOX,
            reason=(
                f"Your calendar ({rep.caldav_url}) could not be read: {why[:300]}. Meeting times are "
                "offered from your Embudo meetings and working hours until it can be read again."
            ),
            created_at=now,
            next_attempt_at=now,
            delivered_at=now,
            attempts=0,
        )
    )

"""A rep's busy times from their CalDAV calendar (the ``caldav`` library): ``crm_core.scheduling.calendars``'
reader.

The calendar at the rep's URL is asked for its events in the range (a CalDAV time-range query);
recurring events are expanded here (``recurring-ical-events``, the same on every server), all-day and
floating events are days and wall times of the rep's time zone, and transparent ("free") or cancelled
events, and Embudo's own meetings, are not busy here. A free-busy report is not used: servers differ in
what they count in it (Radicale counts transparent events). Each read has a short timeout, and its result,
or its failure, is kept for ``EMBUDO_CALDAV_CACHE_SECONDS`` per calendar, so an offer costs at most one
slow read a while. The ``caldav`` library is imported on the first read: processes whose reps have no
calendar start as fast.
"""

import hashlib
import threading
import time as clock
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar as ICalendar

from crm_core.config import get_settings
from crm_core.scheduling.calendars import CalendarUnavailable, Interval, RepCalendar

# The UIDs of Embudo's meetings (crm_core.scheduling.meetings): one the rep put into their calendar is counted
# from the database, where a move or a cancellation is already known and its own time is free to move to.
EMBUDO_UID = "@embudo"
# Read a day more than asked, so the next offers (whose range ends a little later) are served from it.
_READ_AHEAD = timedelta(days=1)


@dataclass(frozen=True)
class _Kept:
    at: float  # time.monotonic() of the read
    start: datetime
    end: datetime
    busy: tuple[Interval, ...]
    failure: str | None


_kept: dict[tuple[str, str, str, str], _Kept] = {}
_lock = threading.Lock()


def _key(calendar: RepCalendar) -> tuple[str, str, str, str]:
    # a new address, user or password is a new calendar; the password is kept only as a digest
    secret = hashlib.sha256((calendar.password or "").encode()).hexdigest()
    return calendar.url, calendar.username or "", secret, calendar.timezone


def forget() -> None:
    """Drop every kept read (tests, and after changing a calendar's events on purpose)."""
    with _lock:
        _kept.clear()


def read_busy(calendar: RepCalendar, start: datetime, end: datetime) -> Sequence[Interval]:
    """The busy intervals (UTC) of ``calendar`` overlapping [start, end); ``CalendarUnavailable`` if it
    cannot be read."""
    key, now = _key(calendar), clock.monotonic()
    max_age = get_settings().caldav_cache_seconds
    with _lock:
        kept = _kept.get(key)
    if kept is not None and now - kept.at < max_age and kept.start <= start and end <= kept.end:
        if kept.failure is not None:
            raise CalendarUnavailable(kept.failure)
        return [(s, e) for s, e in kept.busy if s < end and start < e]
    try:
        busy, failure = tuple(_read(calendar, start, end + _READ_AHEAD)), None
    except CalendarUnavailable as error:
        busy, failure = (), str(error)
    with _lock:
        for old in [k for k, v in _kept.items() if now - v.at >= max_age]:
            del _kept[old]
        _kept[key] = _Kept(now, start, end + _READ_AHEAD, busy, failure)
    if failure is not None:
        raise CalendarUnavailable(failure)
    return [(s, e) for s, e in busy if s < end and start < e]


def _read(calendar: RepCalendar, start: datetime, end: datetime) -> list[Interval]:
    import caldav

    timeout = get_settings().caldav_timeout_seconds
    try:
        with caldav.DAVClient(
            calendar.url, username=calendar.username, password=calendar.password, timeout=timeout
        ) as client:
            found: list[caldav.Event] = caldav.Calendar(client=client, url=calendar.url).search(
                start=start, end=end, event=True, expand=False
            )
            documents = [event.icalendar_instance for event in found]
    except caldav.lib.error.AuthorizationError:
        raise CalendarUnavailable("the calendar server refused the user name or password") from None
    except Exception as error:  # whatever a foreign server does, the offer goes on without it
        raise CalendarUnavailable(f"{type(error).__name__}: {str(error)[:200]}") from None
    zone = ZoneInfo(calendar.timezone)
    return sorted(busy for document in documents for busy in _busy_in(document, start, end, zone))


def _busy_in(document: ICalendar, start: datetime, end: datetime, zone: ZoneInfo) -> list[Interval]:
    import recurring_ical_events  # type: ignore[import-untyped]

    busy = []
    for event in recurring_ical_events.of(document).between(start, end):
        if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if str(event.get("UID", "")).endswith(EMBUDO_UID):  # our own invitation: the database has it
            continue
        begins = _utc(event.decoded("DTSTART"), zone)
        ends = _utc(event.decoded("DTEND"), zone) if "DTEND" in event else None
        if ends is None:  # RFC 5545: an all-day event without an end lasts the day, a timed one no time
            is_day = not isinstance(event.decoded("DTSTART"), datetime)
            ends = begins + timedelta(days=1) if is_day else begins
        if begins < ends:
            busy.append((begins, ends))
    return busy


def _utc(value: date | datetime, zone: ZoneInfo) -> datetime:
    """A DTSTART / DTEND as UTC: a date is the start of that day, a floating time a wall time, both in
    the rep's zone."""
    if not isinstance(value, datetime) and isinstance(value, date):
        value = datetime.combine(value, time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)

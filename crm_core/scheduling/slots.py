"""Meeting slots: which times a rep can be offered, as plain functions of the rep's calendar.

A slot is a start time (UTC) of ``length``, on a ``step`` grid of the rep's local wall clock, inside the
rep's working hours (a span may cross midnight: "22:00-02:00" belongs to the day it starts), at least
``lead_time`` ahead, not while the rep is away, not overlapping the rep's other meetings. Slots are made
in local wall time, so a DST change moves neither the hours nor the grid; a wall time the change skips
does not exist and is never offered. Nothing here reads the database (``crm_core.scheduling.meetings`` does).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from crm_core.people.working_hours import WEEKDAYS, spans

# A rep without working hours is "always available" for routing; a meeting still needs office hours.
OFFICE_HOURS = {day: ["09:00", "17:00"] for day in WEEKDAYS[:5]}


@dataclass(frozen=True)
class Calendar:
    """What slot finding knows about one rep."""

    timezone: str
    working_hours: dict[str, list[str]]
    away_until: datetime | None = None
    busy: Sequence[tuple[datetime, datetime]] = field(default_factory=tuple)  # [start, end) in UTC


@dataclass(frozen=True)
class SlotRules:
    """The booking settings (``crm_core.config``: ``EMBUDO_MEETING_*``)."""

    length: timedelta = timedelta(minutes=30)
    step: timedelta = timedelta(minutes=30)
    lead_time: timedelta = timedelta(hours=2)
    horizon: timedelta = timedelta(days=14)
    offered: int = 4  # slots in one offer
    per_day: int = 2  # at most this many of one offer on one day, so it spans days


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """``wall`` (naive, local) as UTC; None for a wall time a DST change skips."""
    utc = wall.replace(tzinfo=zone).astimezone(UTC)
    return utc if utc.astimezone(zone).replace(tzinfo=None) == wall else None


def _windows(calendar: Calendar, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
    """Working spans (naive local start, naive local end) of the days ``first``..``last``."""
    return spans(calendar.working_hours or OFFICE_HOURS, first, last)


def _is_free(calendar: Calendar, start: datetime, end: datetime) -> bool:
    if calendar.away_until is not None and start < calendar.away_until:
        return False
    return all(end <= busy_start or busy_end <= start for busy_start, busy_end in calendar.busy)


def fits(calendar: Calendar, start: datetime, end: datetime) -> bool:
    """Whether a meeting at [start, end) (UTC) lies inside one of the rep's working spans, not while away and
    overlapping none of the rep's meetings: what a meeting handed to another rep needs. Its time is already
    agreed, so the grid, lead time and horizon of an offer do not apply."""
    zone = ZoneInfo(calendar.timezone)
    wall_start, wall_end = (moment.astimezone(zone).replace(tzinfo=None) for moment in (start, end))
    day = wall_start.date()
    spans = _windows(calendar, day - timedelta(days=1), day)  # yesterday's span may cross midnight
    return any(s <= wall_start and wall_end <= e for s, e in spans) and _is_free(calendar, start, end)


def all_free(calendar: Calendar, now: datetime, rules: SlotRules) -> Iterator[datetime]:
    """Every free slot start (UTC) from ``now + lead_time`` to ``now + horizon``, soonest first."""
    earliest, latest = now + rules.lead_time, now + rules.horizon
    zone = ZoneInfo(calendar.timezone)
    first = earliest.astimezone(zone).date() - timedelta(days=1)  # yesterday's span may cross midnight
    for start, end in _windows(calendar, first, latest.astimezone(zone).date()):
        wall = start
        while wall + rules.length <= end:
            begins = _wall_to_utc(wall, zone)
            wall += rules.step
            if begins is None:
                continue
            ends = begins + rules.length  # real time: a meeting across a DST change still lasts ``length``
            if ends.astimezone(zone).replace(tzinfo=None) > end:
                continue
            if earliest <= begins <= latest and _is_free(calendar, begins, ends):
                yield begins


def offer(
    calendar: Calendar, now: datetime, rules: SlotRules, after: datetime | None = None
) -> list[datetime]:
    """The slots to offer: the soonest free ones (after ``after``, for "other times"), a few per day."""
    chosen: list[datetime] = []
    per_day: dict[date, int] = {}
    zone = ZoneInfo(calendar.timezone)
    for start in all_free(calendar, now, rules):
        if after is not None and start <= after:
            continue
        day = start.astimezone(zone).date()
        if per_day.get(day, 0) >= rules.per_day:
            continue
        per_day[day] = per_day.get(day, 0) + 1
        chosen.append(start)
        if len(chosen) == rules.offered:
            break
    return chosen


@dataclass(frozen=True)
class Pick:
    """The slot nearest a wish, and whether it lies inside what was asked."""

    start: datetime | None
    exact: bool  # inside the asked time or span; False: the nearest other time (or none at all)


def nearest(
    calendar: Calendar, now: datetime, rules: SlotRules, wanted_from: datetime, wanted_to: datetime
) -> Pick:
    """The first free slot inside [wanted_from, wanted_to), else the free slot closest to ``wanted_from``,
    else none within the horizon."""
    free = list(all_free(calendar, now, rules))
    inside = [s for s in free if wanted_from <= s < wanted_to]
    if inside:
        return Pick(inside[0], True)
    if not free:
        return Pick(None, False)
    return Pick(min(free, key=lambda s: abs(s - wanted_from)), False)

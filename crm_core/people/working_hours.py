"""What a rep's weekly working hours mean, for routing, live chat and meeting slots alike.

Hours map a weekday (``mon`` … ``sun``) to ``[start, end]`` on the rep's local wall clock, as ``HH:MM``.
A span whose end is not after its start crosses midnight and belongs to the day it starts: ``22:00``–``06:00``
is a night shift, ``00:00``–``00:00`` the whole day. Days not listed are days off. (No hours at all means
"always" to routing; slot finding uses office hours then: see ``crm_core.scheduling.slots``.)
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from crm_core.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _clock_text(text: str) -> str:
    if not re.fullmatch(CLOCK, text):
        raise ValueError(f"'{text[:20]}' is not a time of day like 09:00")
    return text


Clock = Annotated[str, AfterValidator(_clock_text), Field(json_schema_extra={"pattern": CLOCK})]
# The API's and the console's type: every value it allows means something (a span may cross midnight)
WorkingHours = dict[Weekday, Annotated[list[Clock], Field(min_length=2, max_length=2)]]

Hours = Mapping[str, Sequence[str]]


def clock(text: str) -> time:
    """``HH:MM`` (``9:00`` too) as a time of day."""
    try:
        return time.fromisoformat(text.strip().zfill(5))
    except ValueError:
        raise InvalidInput(f"Cannot read the working hour '{text}': write it like 09:00.") from None


def span_of(hours: Hours, day: date) -> tuple[datetime, datetime] | None:
    """The span that starts on ``day`` as naive local [start, end), or None on a day off."""
    span = hours.get(WEEKDAYS[day.weekday()])
    if not span:
        return None
    start, end = datetime.combine(day, clock(span[0])), datetime.combine(day, clock(span[1]))
    if end <= start:  # crosses midnight into the next day
        end += timedelta(days=1)
    return start, end


def spans(hours: Hours, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
    """The spans that start on the days ``first`` … ``last``, in order."""
    day = first
    while day <= last:
        if (span := span_of(hours, day)) is not None:
            yield span
        day += timedelta(days=1)


def covers(hours: Hours, wall: datetime) -> bool:
    """Whether the naive local time ``wall`` is inside a span (yesterday's may reach into today)."""
    return any(
        start <= wall < end for start, end in spans(hours, wall.date() - timedelta(days=1), wall.date())
    )

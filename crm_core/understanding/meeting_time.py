"""When a visitor would like to meet ("Thursday afternoon", "el martes a las 10"): a span of time.

Duckling reads the expression in the visitor's zone; its readings are relative to noon of today, so a time
already past today ("Tuesday at 10" said on Tuesday at 11) is taken from its next reading. A day or a part
of a day is the whole span; "at 10" is the hour from 10:00, so the nearest free slot inside it is taken.
"""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crm_core.understanding._duckling import times

_GRAIN = {
    "second": timedelta(minutes=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=31),
}


def _span(reading: dict[str, Any]) -> tuple[datetime, datetime] | None:
    if reading.get("type") == "interval":
        start = (reading.get("from") or {}).get("value")
        end = (reading.get("to") or {}).get("value")
        if not start:
            return None
        begins = datetime.fromisoformat(start)
        return begins, datetime.fromisoformat(end) if end else begins + timedelta(hours=4)
    if not reading.get("value"):
        return None
    begins = datetime.fromisoformat(reading["value"])
    return begins, begins + _GRAIN.get(str(reading.get("grain")), timedelta(hours=1))


def wished_time(text: str, now: datetime, language: str, tz_name: str) -> tuple[datetime, datetime] | None:
    """The first span the visitor's words name that has not ended yet, or None when they name no time.
    A reading at the clock time they said is preferred ("el martes a las 10" on a Tuesday afternoon is
    next Tuesday at 10, not tonight at 22:00)."""
    today = now.astimezone(ZoneInfo(tz_name)).date()
    for entity in times(text, today, language, tz_name):
        value = entity.get("value") or {}
        spans = [span for reading in value.get("values") or [value] if (span := _span(reading))]
        if not spans:
            continue
        said = spans[0][0].timetz()
        ahead = [span for span in spans if span[1] > now]
        ahead.sort(key=lambda span: span[0].timetz() != said)  # stable: soonest first within each kind
        if ahead:
            return max(ahead[0][0], now), ahead[0][1]
    return None

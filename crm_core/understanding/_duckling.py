"""Duckling in-process (``pyduckling-native-phihos``): the calendar expressions our rules leave over.

Measured on our machines (Dec 2026): import + init 0.14 s, then 0.2–2 ms a message (the first call of a
process ~30 ms). Used for time only: its money readings were wrong on ranges ("12-15k USD" → 12 to 15,000),
on separators under the English locale ("12.500 euros" → 12.5) and mangle non-ASCII units, which our own
rules in ``money`` read right.
"""

from datetime import date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_LOCALES = {"en": ("EN", "EN_US"), "es": ("ES", "ES_ES")}


@lru_cache(maxsize=1)
def _time_zones() -> Any:
    import duckling  # starts the Haskell runtime: only when first needed

    return duckling.load_time_zones("/usr/share/zoneinfo")


def _zone(tz_name: str | None) -> str:
    try:
        ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return tz_name or "UTC"


def times(text: str, today: date, language: str, tz_name: str | None = None) -> list[dict[str, Any]]:
    """Duckling's time entities in ``text``, relative to noon of ``today`` in the visitor's time zone."""
    import duckling

    zone = _zone(tz_name)
    noon = datetime.combine(today, time(12), tzinfo=ZoneInfo(zone))
    lang, locale = _LOCALES.get(language, _LOCALES["en"])
    context = duckling.Context(
        duckling.parse_ref_time(_time_zones(), zone, int(noon.timestamp())),
        duckling.parse_locale(locale, duckling.default_locale_lang(duckling.parse_lang(lang))),
    )
    found: list[dict[str, Any]] = duckling.parse(text, context, duckling.parse_dimensions(["time"]), False)
    return found

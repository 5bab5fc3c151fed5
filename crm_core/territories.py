"""Where a visitor is, as a territory code routing can match (ISO 3166 country, e.g. ES), from what they gave.

In order: the country of their phone number, then the region of the locale their browser or Telegram
client sent with a message (``es-MX`` → MX; a bare ``es`` says nothing), then the country of the browser's
time zone (``Europe/Madrid`` → ES, from the tz database's zone.tab). Nothing known: no territory, and the
lead goes to reps who cover every territory.
"""

from functools import cache
from importlib import resources
from typing import NamedTuple

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.models import Conversation, Message, MessageRole

LOCALE_KEYS = ("locale", "language_code")  # the widget's navigator.language; Telegram's client language
TIMEZONE_KEY = "timezone"  # the widget's Intl time zone (Telegram sends none)


class Territory(NamedTuple):
    code: str
    origin: str | None  # what it was read from ("the phone number"); None when it was given as such


def from_phone(phone: str | None) -> str | None:
    if not phone or not phone.startswith("+"):
        return None  # kept as typed: no country code to read
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return None
    return region if region and region != "ZZ" else None


def from_locale(locale: object) -> str | None:
    """``es-MX`` / ``es_MX`` / ``zh-Hant-TW`` → the two-letter region; a language alone → None."""
    if not isinstance(locale, str):
        return None
    parts = locale.replace("_", "-").split("-")
    region = parts[-1] if len(parts) > 1 else ""
    return region.upper() if len(region) == 2 and region.isalpha() else None


@cache
def _zone_countries() -> dict[str, str]:
    """Time zone → ISO country, from the tz database's zone.tab (shipped by the tzdata package)."""
    table = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in table.splitlines() if line and not line.startswith("#"))
    return {row[2]: row[0] for row in rows if len(row) >= 3}


def from_timezone(zone: object) -> str | None:
    """``Europe/Madrid`` → ES; ``UTC`` or an unknown name → None (it says nothing about a country)."""
    return _zone_countries().get(zone.strip()) if isinstance(zone, str) else None


def territory_of(session: Session, phone: str | None, conversation: Conversation | None) -> Territory | None:
    if (code := from_phone(phone)) is not None:
        return Territory(code, "the phone number")
    if conversation is None or conversation.id is None:
        return None
    extras = session.scalars(
        select(Message.extra)
        .where(Message.conversation_id == conversation.id, Message.role == MessageRole.VISITOR)
        .order_by(Message.id.desc())
        .limit(20)
    )
    for extra in extras:
        metadata = extra.get("metadata") if isinstance(extra, dict) else None
        for key in LOCALE_KEYS:
            if isinstance(metadata, dict) and (code := from_locale(metadata.get(key))) is not None:
                return Territory(code, f"the visitor's locale ({metadata[key]})")
        if isinstance(metadata, dict) and (code := from_timezone(metadata.get(TIMEZONE_KEY))) is not None:
            return Territory(code, f"the visitor's time zone ({metadata[TIMEZONE_KEY]})")
    return None

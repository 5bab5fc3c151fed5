"""Where a visitor is, as a territory code routing can match (ISO 3166 country, e.g. ES), from what they gave.

In order: the country of their phone number, then a country or city they named in the chat ("we're in
Lyon" → FR, "somos de Monterrey" → MX; from ``places.yml``), then the region of the locale their browser or
Telegram client sent with a message (``es-MX`` → MX; a bare ``es`` says nothing), then the country of the
browser's time zone (``Europe/Madrid`` → ES, from the tz database's zone.tab). Nothing known: no territory,
and the lead goes to reps who cover every territory.
"""

import re
import unicodedata
from functools import cache
from importlib import resources
from typing import NamedTuple

import phonenumbers
import yaml
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


class Place(NamedTuple):
    code: str  # the territory
    name: str  # as places.yml spells it
    kind: str  # "country" or "city"


# A place counts only where the visitor says they are: after "in", "from", "based in", "en", "de", "desde"…
# (so "buy from us" or "the Paris agreement" say nothing); an article may come between.
_CUES = r"(?:in|from|based in|located in|out of|near|en|de|del|desde|cerca de)"
_ARTICLE = r"(?:(?:the|la|el|los|las) )?"


def fold(text: str) -> str:
    """Lower case without accents and with single spaces: "Bogotá" and "bogota" are the same place."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@cache
def _places() -> dict[str, list[Place]]:
    """Folded name → the places of that name (two or more: ambiguous), from places.yml."""
    table = yaml.safe_load(
        resources.files("crm_core.people").joinpath("places.yml").read_text(encoding="utf-8")
    )
    places: dict[str, list[Place]] = {}
    for code, names in table.items():
        for kind, key in (("country", "countries"), ("city", "cities")):
            for name in names.get(key, []):
                known = places.setdefault(fold(name), [])
                if all(place.code != code for place in known):
                    known.append(Place(code, name, kind))
    return places


def _alternatives(names: list[str]) -> str:
    return "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))  # longest first


@cache
def _stated() -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){_CUES} {_ARTICLE}(?P<name>{_alternatives(list(_places()))})(?!\w)")


@cache
def _countries() -> re.Pattern[str]:
    names = [name for name, places in _places().items() if any(p.kind == "country" for p in places)]
    return re.compile(rf"(?<!\w)(?:{_alternatives(names)})(?!\w)")


def stated_place(text: str) -> Place | None:
    """The first country or city ``text`` says the visitor is in, or None. A city of two territories'
    (Córdoba: AR, ES) counts only when the text also names one of those countries ("Córdoba, Argentina")."""
    folded = fold(text)
    named = {place.code for match in _countries().finditer(folded) for place in _places()[match.group()]}
    for match in _stated().finditer(folded):
        places = _places()[match.group("name")]
        if len(places) > 1:
            places = [place for place in places if place.code in named]
        if len(places) == 1:
            return places[0]
    return None


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
    messages = session.execute(
        select(Message.text, Message.extra)
        .where(Message.conversation_id == conversation.id, Message.role == MessageRole.VISITOR)
        .order_by(Message.id.desc())
        .limit(50)
    ).all()
    for text, _ in messages:  # the newest statement wins: "we moved to Lyon" after "we're in Paris"
        if text and (place := stated_place(text)) is not None:
            return Territory(place.code, f"the {place.kind} the visitor named ({place.name})")
    for _, extra in messages:
        metadata = extra.get("metadata") if isinstance(extra, dict) else None
        for key in LOCALE_KEYS:
            if isinstance(metadata, dict) and (code := from_locale(metadata.get(key))) is not None:
                return Territory(code, f"the visitor's locale ({metadata[key]})")
        if isinstance(metadata, dict) and (code := from_timezone(metadata.get(TIMEZONE_KEY))) is not None:
            return Territory(code, f"the visitor's time zone ({metadata[TIMEZONE_KEY]})")
    return None

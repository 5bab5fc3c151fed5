"""Which time zone a visitor means when they say it: "Madrid", "Ciudad de México", "new york",
"Europe/Lisbon", "UTC-5", "GMT+1". A plain function over zoneinfo's own zone names and a small table of
common countries and cities in English and Spanish (no network); and the places offered as buttons.

Countries that span several zones (the United States, Canada, Brazil, Russia, Australia) are not in the table:
the visitor is asked for a city instead of being given a guess.
"""

import re
import unicodedata
from functools import cache
from zoneinfo import available_timezones

# Spelled as a visitor writes them; compared without accents or case.
PLACES = {
    "Europe/Madrid": ["spain", "españa", "barcelona", "sevilla", "seville", "valencia", "bilbao", "málaga"],
    "Atlantic/Canary": ["canarias", "canary islands", "islas canarias", "tenerife", "las palmas"],
    "America/Mexico_City": ["mexico", "méxico", "ciudad de méxico", "mexico city", "cdmx", "guadalajara"],
    "America/Argentina/Buenos_Aires": ["argentina", "buenos aires", "rosario"],
    "America/Bogota": ["colombia", "bogotá", "medellín", "cali"],
    "America/Lima": ["peru", "perú"],
    "America/Santiago": ["chile", "santiago de chile"],
    "America/Caracas": ["venezuela"],
    "America/Guayaquil": ["ecuador", "quito"],
    "America/Montevideo": ["uruguay"],
    "America/Asuncion": ["paraguay", "asunción"],
    "America/La_Paz": ["bolivia"],
    "America/Costa_Rica": ["costa rica"],
    "America/Guatemala": ["guatemala"],
    "America/El_Salvador": ["el salvador", "san salvador"],
    "America/Panama": ["panama", "panamá"],
    "America/Puerto_Rico": ["puerto rico"],
    "America/Santo_Domingo": ["dominican republic", "república dominicana", "santo domingo"],
    "America/Havana": ["cuba", "la habana", "havana"],
    "America/New_York": ["nueva york", "nyc", "new jersey", "miami", "boston", "washington", "atlanta"],
    "America/Chicago": ["texas", "houston", "dallas"],
    "America/Los_Angeles": ["california", "san francisco", "seattle", "san diego"],
    "Europe/London": ["uk", "united kingdom", "reino unido", "england", "inglaterra", "londres", "scotland"],
    "Europe/Dublin": ["ireland", "irlanda"],
    "Europe/Lisbon": ["portugal", "lisboa", "porto", "oporto"],
    "Europe/Paris": ["france", "francia", "parís"],
    "Europe/Berlin": ["germany", "alemania", "munich", "múnich"],
    "Europe/Rome": ["italy", "italia", "roma", "milan", "milán"],
    "Europe/Amsterdam": ["netherlands", "países bajos", "holanda"],
    "Europe/Brussels": ["belgium", "bélgica", "bruselas"],
    "Europe/Zurich": ["switzerland", "suiza", "zúrich"],
}

# The places offered as buttons (after the rep's own city), per language.
COMMON = {
    "en": [("New York", "America/New_York"), ("London", "Europe/London"),
           ("Los Angeles", "America/Los_Angeles")],
    "es": [("Madrid", "Europe/Madrid"), ("Ciudad de México", "America/Mexico_City"),
           ("Bogotá", "America/Bogota"), ("Buenos Aires", "America/Argentina/Buenos_Aires")],
}  # fmt: skip

# Regions whose zone names are cities ("Etc", "US/Pacific", "Mexico/General" and the like are not).
_REGIONS = ("Africa", "America", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")
# Zone cities that are everyday words too ("Pacific/Easter", "Indian/Christmas"): never read from a sentence.
_WORDS = {"easter", "wake", "christmas", "resolute", "midway", "stanley", "cayenne", "jersey", "truk"}
# "UTC", "GMT+1", "utc -5", "GMT+05:00"; not "UTC 5" (which way?).
_OFFSET = re.compile(r"\b(?:utc|gmt)(?:\s*([+-])\s*(\d{1,2})(?::?00)?)?(?![\w:])(?!\s*\d)")


def plain(text: str) -> str:
    """Lower case, no accents, words separated by single spaces: "Ciudad de México" → "ciudad de mexico"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("\u2212", "-"))
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w+/:-]+", " ", letters.replace("_", " ")).split())


@cache
def _names() -> dict[str, str]:
    """Every name read as a zone, plain, to its IANA name: the cities of zoneinfo, then the table."""
    names: dict[str, str] = {}
    for zone in available_timezones():
        parts = zone.split("/")
        if len(parts) == 2 and parts[0] in _REGIONS and plain(parts[1]) not in _WORDS:
            names[plain(parts[1])] = zone
    for zone, places in PLACES.items():
        names.update({plain(place): zone for place in places})
    return names


@cache
def _iana() -> dict[str, str]:
    return {zone.lower(): zone for zone in available_timezones() if zone != "localtime"}


def read_time_zone(text: str) -> str | None:
    """The IANA zone ``text`` names (an IANA name, a UTC/GMT offset in whole hours, a city or a country), or
    None when it names none or an ambiguous one. The longest place named wins: "Mexico City" over "Mexico"."""
    words = [word.strip(".,;!?()").lower() for word in text.split()]
    for word in words:
        if "/" in word and (zone := _iana().get(word)) is not None:
            return zone
    said = plain(text)
    if (offset := _OFFSET.search(said)) is not None:
        sign, hours = offset.group(1), int(offset.group(2) or 0)
        if hours == 0:
            return "UTC"
        if hours > (14 if sign == "+" else 12):
            return None
        return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"  # POSIX signs: Etc/GMT+5 is UTC-5
    if (zone := _iana().get(" ".join(words))) is not None:  # legacy names ("Japan", "MET") only alone
        return zone
    found = [name for name in _names() if re.search(rf"(?<![\w/]){re.escape(name)}(?![\w/])", said)]
    return _names()[max(found, key=len)] if found else None


def zone_label(zone: str) -> str:
    """How a zone is named to the visitor: "Europe/Madrid" as it is; "Etc/GMT+5" as "UTC-5"."""
    if zone.startswith("Etc/GMT") and len(zone) > len("Etc/GMT"):
        sign, hours = zone[len("Etc/GMT")], zone[len("Etc/GMT") + 1 :]
        return f"UTC{'-' if sign == '+' else '+'}{hours}"
    return zone


def city_of(zone: str, language: str) -> str:
    """A zone's place as the buttons show it: "America/Mexico_City" → "Ciudad de México" in Spanish."""
    named = dict((z, label) for label, z in COMMON.get(language, []))
    return named.get(zone) or zone.rsplit("/", 1)[-1].replace("_", " ")


def choices(rep_zone: str, language: str) -> list[tuple[str, str]]:
    """The places offered as buttons, (label, zone): the rep's city first, then the language's common ones."""
    offered = [(city_of(rep_zone, language), rep_zone)]
    for label, zone in COMMON.get(language, COMMON["en"]):
        if zone not in {z for _, z in offered}:
            offered.append((label, zone))
    return offered[:4]

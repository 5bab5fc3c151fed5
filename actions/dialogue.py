"""Helpers shared by the actions: the visitor's language, response texts from the domain, skipped answers."""

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.types import DomainDict

from crm_core.understanding import phone_regions

# A slot the visitor chose not to answer ("I'd rather not say") or could not answer: the form moves on,
# and crm_core receives "unknown" (None) for it.
SKIPPED = "unknown"


def supported_languages(domain: DomainDict) -> list[str]:
    """The languages of the bot: the values of the `language` slot in domain.yml."""
    values = domain.get("slots", {}).get("language", {}).get("values") or ["en"]
    return [str(value) for value in values]


def current_language(tracker: Tracker) -> str:
    language = tracker.get_slot("language")
    return str(language) if language else "en"


def response_text(domain: DomainDict, name: str, language: str) -> str | None:
    """The text of a response in ``language`` (its conditional variation), else its default variation."""
    default = None
    for variation in domain.get("responses", {}).get(name, []):
        conditions = variation.get("condition") or []
        wanted = [c for c in conditions if c.get("name") == "language"]
        if not conditions and default is None:
            default = variation.get("text")
        if wanted and wanted[0].get("value") == language:
            text: str | None = variation.get("text")
            return text
    return default


def latest_intent(tracker: Tracker) -> str | None:
    intent: dict[str, Any] = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    return str(name) if name else None


def likely_intents(tracker: Tracker, count: int = 2, at_least: float = 0.0) -> list[str]:
    """The classifier's ``count`` best guesses for the latest message with a confidence of ``at_least``
    (a fallback is not a guess)."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    guesses = [entry for entry in ranking if entry.get("name") not in (None, "nlu_fallback")][:count]
    return [str(entry["name"]) for entry in guesses if float(entry.get("confidence") or 0.0) >= at_least]


def conversation_channel(tracker: Tracker) -> str:
    """The channel a visitor writes from: Rasa's input channel ("socketio" for the widget, "telegram" for the
    gateway's own channel), or, for an adapter that relays through the REST channel, the one it names in the
    metadata. (The widget's metadata says "website" too, but that is where the lead came from: its source.)"""
    rasa = tracker.get_latest_input_channel()
    named = channel_metadata(tracker, "channel")
    if rasa in (None, "rest") and isinstance(named, str):
        return named
    return rasa or "unknown"


def channel_metadata(tracker: Tracker, key: str) -> Any:
    """The latest value a channel sent for ``key`` with a visitor message (the widget's "timezone" and
    "locale", Telegram's "language_code"), or None."""
    for event in reversed(tracker.events):
        if event.get("event") == "user" and (value := (event.get("metadata") or {}).get(key)):
            return value
    return None


def time_zone(tracker: Tracker) -> str | None:
    """The visitor's IANA time zone, when they told it (``visitor_timezone``, asked before a booking offer)
    or their channel says (the widget does): dates are theirs."""
    zone = tracker.get_slot("visitor_timezone") or channel_metadata(tracker, "timezone")
    return str(zone) if zone else None


def phone_regions_of(tracker: Tracker) -> tuple[str, ...]:
    """Where a phone number without a country code is read: the browser locale's country, then the usual
    countries of the visitor's language."""
    locale = channel_metadata(tracker, "locale")
    return phone_regions(current_language(tracker), str(locale) if locale else None)


def slot_or_none(value: Any) -> Any:
    """A slot value as crm_core should see it: skipped answers are unknown."""
    return None if value == SKIPPED else value

"""The visitor's language: from channel metadata or the first message, switched on request."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import latest_intent, supported_languages
from crm_core.parsing import detect_language, language_from_locale

# Where channels put the user's locale: our demo page and browser widgets ("locale": "es-ES"),
# Telegram ("language_code": "es"), others ("language").
LOCALE_KEYS = ("locale", "language_code", "language", "lang")


class ActionSetLanguage(Action):  # type: ignore[misc]
    """Runs after every user message (the `language` slot's custom mapping in domain.yml)."""

    def name(self) -> str:
        return "action_set_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        supported = supported_languages(domain)
        message = tracker.latest_message
        text = str(message.get("text") or "")
        current = tracker.get_slot("language")
        if latest_intent(tracker) == "change_language":
            wanted = next(
                (
                    str(entity.get("value"))
                    for entity in message.get("entities") or []
                    if entity.get("entity") == "language" and entity.get("value") in supported
                ),
                None,
            )
            if wanted is None:
                wanted = detect_language(text, supported)
                if wanted in (None, current) and len(supported) == 2:
                    wanted = next(code for code in supported if code != (current or "en"))
            return [SlotSet("language", wanted)] if wanted and wanted != current else []
        if current in supported:
            return []
        metadata = message.get("metadata") or {}
        language = next(
            (
                found
                for key in LOCALE_KEYS
                if (found := language_from_locale(metadata.get(key), supported)) is not None
            ),
            None,
        )
        if language is None and not text.startswith("/"):
            language = detect_language(text, supported)
        return [SlotSet("language", language)] if language else []

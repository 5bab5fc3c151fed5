"""The visitor's language: from channel metadata or the first message, switched on request."""

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import latest_intent, supported_languages
from crm_core.understanding import detect_language, language_from_locale

# Where channels put the user's locale: our demo page and browser widgets ("locale": "es-ES"),
# Telegram ("language_code": "es"), others ("language").
LOCALE_KEYS = ("locale", "language_code", "language", "lang")
DATA = Path(__file__).resolve().parent.parent / "data"


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s@.'-]", " ", text.lower()).split())


@lru_cache(maxsize=1)
def known_phrases() -> dict[str, str]:
    """Messages exactly as written in one language's NLU file ("hello", "hola"): short greetings and
    answers are too short for statistical detection, but the training data says which language they are."""
    seen: dict[str, set[str]] = {}
    for path in DATA.glob("nlu_*.yml"):
        language = path.stem.removeprefix("nlu_")
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                if line.startswith("- ") and "[" not in line:
                    seen.setdefault(_plain(line[2:]), set()).add(language)
    return {text: languages.pop() for text, languages in seen.items() if len(languages) == 1}


def detect(text: str, supported: list[str]) -> str | None:
    known = known_phrases().get(_plain(text))
    return known if known in supported else detect_language(text, supported)


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
                wanted = detect(text, supported)
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
            language = detect(text, supported)
        return [SlotSet("language", language)] if language else []

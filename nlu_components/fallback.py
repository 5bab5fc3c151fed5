"""The fallback classifier, plus: a message without a single letter or digit, or typed at random, is never
understood."""

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu_components.wording import keyboard_mash


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class WordlessFallbackClassifier(FallbackClassifier):  # type: ignore[misc]
    """Rasa's FallbackClassifier (low or ambiguous confidence → nlu_fallback), and "¿?!", "..." or
    "asdkjh qwe" too.

    Such a message has nothing to classify: whichever intent scores highest on it does so by accident (the
    classifier once took "asdkjh qwe" for an answer with confidence), and the two-stage fallback ("could
    you rephrase?") is the honest answer. Inside the form a fallback is still checked as an answer.
    """

    def _should_fallback(self, message: Message) -> bool:
        text: Any = message.get(TEXT) or ""
        if not any(character.isalnum() for character in str(text)) or keyboard_mash(str(text)):
            return True
        should: bool = super()._should_fallback(message)
        return should

"""The fallback classifier, plus: a message without a single letter or digit is never understood."""

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class WordlessFallbackClassifier(FallbackClassifier):  # type: ignore[misc]
    """Rasa's FallbackClassifier (low or ambiguous confidence → nlu_fallback), and "¿?!" or "..." too.

    Such a message has nothing to classify: whichever intent scores highest on it does so by accident,
    and the two-stage fallback ("could you rephrase?") is the honest answer.
    """

    def _should_fallback(self, message: Message) -> bool:
        text: Any = message.get(TEXT) or ""
        if not any(character.isalnum() for character in str(text)):
            return True
        should: bool = super()._should_fallback(message)
        return should

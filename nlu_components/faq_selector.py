"""Rasa's ResponseSelector, run only for the messages that are its retrieval intent's.

The selector (a DIET model) picks which FAQ answer a question gets. Rasa runs it on every message, though
its choice is read only when the message's intent is the retrieval intent (``faq``: the rule answers with
``utter_faq``): it was a fifth of the NLU's time per message (``make bench-profile``), and its ranking
was stored with every message of every conversation. Here it runs when the classifier (which comes before
it in config.yml) said ``faq``; the guards after it only ever take ``faq`` away, and the fallback's "did you
mean …?" never offers it. Training, and what a ``faq`` message gets, are Rasa's own.
"""

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message

from nlu_components.source import code_fingerprint


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class FaqSelector(ResponseSelector):  # type: ignore[misc]
    """``ResponseSelector`` whose ``process`` skips the messages of other intents."""

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return code_fingerprint(__file__)

    def process(self, messages: list[Message]) -> list[Message]:
        if not self.retrieval_intent:  # a selector for every retrieval intent: Rasa's, unchanged
            return super().process(messages)  # type: ignore[no-any-return]
        asked = [m for m in messages if (m.get(INTENT) or {}).get(INTENT_NAME_KEY) == self.retrieval_intent]
        if asked:
            super().process(asked)
        return messages

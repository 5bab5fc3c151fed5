"""A visitor who says they already signed with someone else is a lead to check in with later: "our firm
signed with a rival vendor last year, I'm only looking around" is `bought_competitor`, not a buyer, a
question or an answer."""

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu_components import certain, wording
from nlu_components.certain import make_certain
from nlu_components.source import code_fingerprint
from nlu_components.wording import states_bought_elsewhere


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class CompetitorGuard(GraphComponent):  # type: ignore[misc]
    """A decision for another vendor (`wording.states_bought_elsewhere`) becomes `bought_competitor`.

    The classifier sees few such messages and splits them between just asking, an answer and small talk —
    or is unsure, and the visitor gets a "did you mean …?" for what they said plainly. Requests for a person
    or for sales, and the messages the dialogue reads by their buttons, stay as classified.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "competitor_intent": "bought_competitor",
            # bought_competitor itself is made certain too: a close second guess ("… pero quería ver qué
            # ofrecéis": 0.53 against request_sales 0.45) would otherwise be the fallback's "did you mean …?"
            "kept": [
                "request_human",
                "request_sales",
                "change_language",
                "book_meeting",
            ],
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self._competitor_intent = str(config["competitor_intent"])
        self._kept = set(config["kept"])

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return code_fingerprint(__file__, wording.__file__, certain.__file__)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CompetitorGuard":
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            name = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            text = message.get(TEXT) or ""
            if name in self._kept or text.startswith("/") or not states_bought_elsewhere(text):
                continue
            make_certain(message, self._competitor_intent)
        return messages

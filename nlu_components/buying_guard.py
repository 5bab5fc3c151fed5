"""A visitor who says plainly they want to buy, or asks for a quote, a demo, a trial or our prices, is a
buyer: "looking to purchase a bot for our firm" is not `just_asking`, "¿me pasáis una cotización?" not a
question the FAQ answers."""

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu_components import certain, wording
from nlu_components.certain import make_certain
from nlu_components.source import code_fingerprint
from nlu_components.wording import asks_for_ours_by_name, asks_for_sales, states_purchase_intent


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class BuyingGuard(GraphComponent):  # type: ignore[misc]
    """An explicit wish to buy (`wording.states_purchase_intent`) classified as something that would lose the
    buyer — just asking, off-topic, small talk — becomes `request_sales`.

    "Purchase" and "comprar" also occur in the just-asking examples ("not planning to purchase", "no voy a
    comprar"), so the classifier can mistake the wish for its negation; the wording, negation included, is
    the better evidence. Requests the classifier already routes to a person, a need or a competitor stay.
    An ask for a quote, a demo, a trial or our prices (`wording.asks_for_sales`) classified as a question or
    small talk, or anything the classifier was unsure of, is `request_sales` too — but not a confident
    off-topic or answer, nor "just asking", "no" or "stop", which such an ask does not outweigh ("I'm a
    student, is there a trial?"). An ask that names our product outright ("what's the price for 25 seats?")
    outweighs off-topic as well. A sales request the classifier was unsure of (below the fallback's
    threshold, "kiero ver la demo del bot") is made certain when the wording says so, not left to the
    fallback.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "buying_intent": "request_sales",
            "overridden": ["just_asking", "out_of_scope", "chitchat", "faq", "greet", "deny", "stop"],
            # an ask overrides these, and whatever the classifier was unsure of (the fallback's threshold)
            "overridden_by_an_ask": ["chitchat", "faq", "greet", "thank", "goodbye"],
            # an ask that names our product outright ("the price for 25 seats") overrides these too
            "overridden_by_naming_ours": ["out_of_scope"],
            "unsure_below": 0.5,
            "kept_when_unsure": [
                "just_asking",
                "deny",
                "stop",
                "request_human",
                "bought_competitor",
                "book_meeting",
                "change_language",
            ],
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self._buying_intent = str(config["buying_intent"])
        self._overridden = set(config["overridden"])
        self._overridden_by_an_ask = set(config["overridden_by_an_ask"])
        self._overridden_by_naming_ours = set(config["overridden_by_naming_ours"])
        self._unsure_below = float(config["unsure_below"])
        self._kept_when_unsure = set(config["kept_when_unsure"])

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
    ) -> "BuyingGuard":
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            name, confidence = intent.get(INTENT_NAME_KEY), intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0
            text = message.get(TEXT) or ""
            if text.startswith("/") or (name == self._buying_intent and confidence >= self._unsure_below):
                continue  # a button's payload, or already a sales request
            unsure = confidence < self._unsure_below and name not in self._kept_when_unsure
            if (
                (name in self._overridden and states_purchase_intent(text))
                or ((name in self._overridden_by_an_ask or unsure) and asks_for_sales(text))
                or (name in self._overridden_by_naming_ours and asks_for_ours_by_name(text))
                or (name == self._buying_intent and states_purchase_intent(text))
            ):
                make_certain(message, self._buying_intent)
        return messages

"""A visitor who says plainly they want to buy is a buyer: "looking to purchase a bot for our firm" is not
`just_asking`, "quiero comprar un bot" not out of scope."""

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
from nlu_components.wording import states_purchase_intent


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class BuyingGuard(GraphComponent):  # type: ignore[misc]
    """An explicit wish to buy (`wording.states_purchase_intent`) classified as something that would lose the
    buyer — just asking, off-topic, small talk — becomes `request_sales`.

    "Purchase" and "comprar" also occur in the just-asking examples ("not planning to purchase", "no voy a
    comprar"), so the classifier can mistake the wish for its negation; the wording, negation included, is
    the better evidence. Requests the classifier already routes to a person, a need or a competitor stay.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "buying_intent": "request_sales",
            "overridden": ["just_asking", "out_of_scope", "chitchat", "faq", "greet", "deny", "stop"],
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self._buying_intent = str(config["buying_intent"])
        self._overridden = set(config["overridden"])

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
            name = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            if name not in self._overridden or not states_purchase_intent(message.get(TEXT) or ""):
                continue
            make_certain(message, self._buying_intent)
        return messages

"""Names are answers, not requests: "Ines Moreau" is not `stop`, "Just Eat" is not `just_asking`."""

import json
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components import certain, wording
from nlu_components.certain import make_certain
from nlu_components.source import code_fingerprint
from nlu_components.wording import name_shaped, words

VOCABULARY_FILE = "vocabulary.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class NameGuard(GraphComponent):  # type: ignore[misc]
    """A message written like a name (a few capitalised words) is an answer, `inform`, unless the predicted
    intent had every one of its words in its training examples.

    Character n-grams make "Moreau" look like "more" (as in "no more questions"): the classifier then says
    `stop` with confidence, and a visitor who only gave their name is told the form has stopped. A word
    never seen with that intent, capitalised as a name, is the better evidence. "Stop", "Just looking" or
    "Buenos Días" keep their intent: every word of them is known to it. A name the classifier already took
    for an answer is made certain, so that the fallback does not ask to rephrase it.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"answer_intent": "inform"}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: dict[str, set[str]] | None = None,
    ) -> None:
        self._answer_intent = str(config["answer_intent"])
        self._model_storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary or {}

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
    ) -> "NameGuard":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        vocabulary: dict[str, set[str]] = {}
        for example in training_data.intent_examples:
            vocabulary.setdefault(example.get(INTENT), set()).update(words(example.get(TEXT) or ""))
        self._vocabulary = vocabulary
        with self._model_storage.write_to(self._resource) as directory:
            serialised = {intent: sorted(known) for intent, known in vocabulary.items()}
            (directory / VOCABULARY_FILE).write_text(json.dumps(serialised, ensure_ascii=False))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "NameGuard":
        with model_storage.read_from(resource) as directory:
            serialised = json.loads((directory / VOCABULARY_FILE).read_text())
        vocabulary = {intent: set(known) for intent, known in serialised.items()}
        return cls(config, model_storage, resource, vocabulary)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            name = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            text = message.get(TEXT) or ""
            if not name or not name_shaped(text):
                continue
            if name == self._answer_intent or words(text) - self._vocabulary.get(name, set()):
                make_certain(message, self._answer_intent)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

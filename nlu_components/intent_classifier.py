"""Intents from what a message means and how it is written: the sentence embedding that SentenceEncoder
adds, and character n-grams, weighed by one logistic regression."""

from typing import Any

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from nlu_components.sentence_encoder import SentenceEncoder
from nlu_components.source import code_fingerprint

MODEL_FILE = "intent_classifier.joblib"
RANKING_LENGTH = 10


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class SentenceIntentClassifier(GraphComponent, IntentClassifier):  # type: ignore[misc]
    """A logistic regression over [sentence embedding ⊕ `char_weight` × tf-idf of character 1–4-grams].

    The embedding carries the meaning across wordings and languages; the character n-grams carry the
    shape of short and misspelt messages ("ok", "graciass", "hla"). `C` and `char_weight` were chosen by
    3-fold cross-validation on the training part of `make eval`'s split, never on its held-out part.
    It trains in seconds, where DIET took two minutes and scored 0.85 on the same split.
    """

    @classmethod
    def required_components(cls) -> list[type]:
        return [SentenceEncoder]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": 100.0, "char_weight": 0.6, "max_ngram": 4}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: tuple[TfidfVectorizer, LogisticRegression] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

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
    ) -> "SentenceIntentClassifier":
        return cls(config, model_storage, resource)

    def _features(self, messages: list[Message], characters: TfidfVectorizer) -> csr_matrix:
        embeddings = []
        for message in messages:
            sentence = message.get_dense_features(TEXT)[1]
            if sentence is None:
                raise ValueError("SentenceIntentClassifier needs SentenceEncoder earlier in the pipeline")
            embeddings.append(np.asarray(sentence.features).reshape(-1))
        texts = [str(message.get(TEXT) or "") for message in messages]
        weighted = characters.transform(texts) * float(self._config["char_weight"])
        return hstack([csr_matrix(np.vstack(embeddings)), weighted]).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        examples = [example for example in training_data.intent_examples if example.get(TEXT)]
        characters = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, int(self._config["max_ngram"])), sublinear_tf=True
        ).fit([str(example.get(TEXT)) for example in examples])
        regression = LogisticRegression(C=float(self._config["C"]), max_iter=5000)
        regression.fit(self._features(examples, characters), [example.get(INTENT) for example in examples])
        self._model = (characters, regression)
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self._model, directory / MODEL_FILE)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SentenceIntentClassifier":
        with model_storage.read_from(resource) as directory:
            model = joblib.load(directory / MODEL_FILE)
        return cls(config, model_storage, resource, model)

    def process(self, messages: list[Message]) -> list[Message]:
        with_text = [message for message in messages if message.get(TEXT)]
        if self._model is None or not with_text:
            return messages
        characters, regression = self._model
        probabilities = regression.predict_proba(self._features(with_text, characters))
        for message, row in zip(with_text, probabilities, strict=True):
            best = np.argsort(-row)[:RANKING_LENGTH]
            names = regression.classes_
            ranking = [
                {INTENT_NAME_KEY: str(names[i]), PREDICTED_CONFIDENCE_KEY: float(row[i])} for i in best
            ]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

"""Setting a message's intent for certain: what the guards do when the wording is better evidence than the
classifier (names are answers, a plain wish to buy is a buying request)."""

from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message


def make_certain(message: Message, intent: str) -> None:
    """``intent`` with confidence 1, first in the ranking; the classifier's other guesses follow."""
    chosen = {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}
    ranking = [chosen] + [
        entry for entry in message.get(INTENT_RANKING_KEY) or [] if entry.get(INTENT_NAME_KEY) != intent
    ]
    message.set(INTENT, chosen, add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)

"""A Telegram edit of the visitor's previous answer replaces that answer, not the answer to the question asked
now (actions/edits.py, the form's validation). Runs the real validation action on the real domain."""

import asyncio
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.qualification_form import ValidateQualificationForm

DOMAIN: dict[str, Any] = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
FIRST_NEED = "a booking assistant for our dental clinic"


def after_editing(edit_of: int, text: str, asked: str = "budget") -> tuple[dict[str, Any], list[Any]]:
    """The need was answered by Telegram message 41, the bot asked ``asked``; then an edit of ``edit_of``
    arrives (Rasa's from_text mapping has already read it as the answer to ``asked``)."""
    message = {"text": text, "intent": {"name": "inform"}, "metadata": {"edit_of": edit_of}}
    events: list[dict[str, Any]] = [
        {"event": "slot", "name": "requested_slot", "value": "need"},
        {"event": "bot", "text": "What are you looking for?"},
        {"event": "user", "text": FIRST_NEED, "metadata": {"telegram_message_id": 41}},
        {"event": "slot", "name": "need", "value": FIRST_NEED},
        {"event": "slot", "name": "requested_slot", "value": asked},
        {"event": "bot", "text": "What budget do you have in mind?"},
        {"event": "user", "text": text, "parse_data": message, "metadata": {"edit_of": edit_of}},
        {"event": "slot", "name": asked, "value": text},
    ]
    slots = {name: None for name in DOMAIN["slots"]} | {
        "language": "en",
        "need": FIRST_NEED,
        "requested_slot": asked,
        asked: text,
    }
    tracker = Tracker("telegram-1", slots, message, events, False, None, {"name": "qualification_form"}, "")
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ValidateQualificationForm().run(dispatcher, tracker, DOMAIN))
    values = {e["name"]: e["value"] for e in result if e.get("event") == "slot"}
    return values, [m.get("response") for m in dispatcher.messages]


def test_an_edit_of_the_previous_answer_replaces_it_and_the_current_question_is_asked_again() -> None:
    values, said = after_editing(41, "a booking assistant for our dental clinic and its two branches")
    assert values["need"] == "a booking assistant for our dental clinic and its two branches"
    assert values["budget"] is None  # the edit is no budget
    assert values["requested_slot"] == "budget"
    assert said == ["utter_edit_applied"]


def test_an_edit_of_an_older_message_changes_nothing_and_says_so() -> None:
    values, said = after_editing(40, "a chatbot for a bakery")
    assert "need" not in values
    assert values["budget"] is None
    assert values["requested_slot"] == "budget"
    assert said == ["utter_edit_not_applied"]


def test_an_edit_that_the_validator_refuses_keeps_the_earlier_answer() -> None:
    values, said = after_editing(41, "   ")
    assert "need" not in values or values["need"] == FIRST_NEED
    assert values["budget"] is None
    assert "utter_edit_applied" not in said

"""Answers given while the action server was down are used once it is back (actions/qualification_form.py):
the failsafe channel answered those turns (marked ``failed_turn``) and nothing was validated, so the next
turn reads them as the answer to the open question. Runs the real validation action on the real domain."""

import asyncio
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.qualification_form import ValidateQualificationForm
from rasa_channels.wording import OFFER

DOMAIN: dict[str, Any] = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
KNOWN = {
    "need": "a helpdesk bot",
    "budget": "12k euros",
    "budget_amount": "12000",
    "requested_slot": "authority",
}


def user(text: str, intent: str = "inform") -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": intent}}}


def after(earlier: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """The validation events of the visitor's ``text`` at the role question, after ``earlier`` events."""
    message = {
        "text": text,
        "intent": {"name": "inform"},
        "intent_ranking": [{"name": "inform", "confidence": 0.9}],
    }
    events = [
        *earlier,
        {**user(text), "parse_data": message},
        {"event": "slot", "name": "authority", "value": text},
    ]
    slots = {name: None for name in DOMAIN["slots"]} | {"language": "en"} | KNOWN | {"authority": text}
    tracker = Tracker(
        "v", slots, message, events, False, None, {"name": "qualification_form"}, "action_listen"
    )
    result = asyncio.run(ValidateQualificationForm().run(CollectingDispatcher(), tracker, DOMAIN))
    return {e["name"]: e["value"] for e in result if e.get("event") == "slot"}


def test_the_role_given_while_the_action_server_was_down_is_used_when_it_is_back() -> None:
    outage = [
        {"event": "bot", "text": "What's your role?", "metadata": {}},
        user("I own the business"),
        {"event": "bot", "text": OFFER["en"], "metadata": {"embudo": "failed_turn"}},
    ]
    slots = after(outage, "you can reach me at marta@lakeshore.example")
    assert slots["authority"] == "decision_maker"
    assert slots["email"] == "marta@lakeshore.example"
    assert slots["requested_slot"] == "timeline"


def test_an_answered_turn_is_not_read_again() -> None:
    answered = [
        {"event": "bot", "text": "What's your role?", "metadata": {}},
        user("I own the business"),
        {"event": "bot", "text": "Thanks! And when do you need it?", "metadata": {}},
    ]
    slots = after(answered, "you can reach me at marta@lakeshore.example")
    assert slots["authority"] is None  # asked again, not taken from an older, answered turn
    assert slots["requested_slot"] == "authority"

"""Idempotent forms: when the qualification form starts again (a returning visitor's "hi", a retried turn),
Rasa sends every stored slot through validate_qualification_form once more; each must come back unchanged,
so the lead keeps its class and its rep. Runs the real validation action on the real domain."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.capture_lead import facts_from_slots
from actions.qualification_form import ValidateQualificationForm
from crm_core.qualification.policy import load_policy
from crm_core.qualification.policy import qualify as verdict_on

ROOT = Path(__file__).parents[2]
DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "domain.yml").read_text())

# What the form stores for a hot SQL lead, and for a visitor who skipped or declined every question.
ANSWERED = {
    "need": "a helpdesk bot for our online store",
    "budget": "we could spend 12 thousand euros",
    "budget_amount": "12000",
    "budget_currency": "EUR",
    "budget_none_yet": False,
    "budget_period": None,
    "authority": "decision_maker",
    "timeline_days": 30,
    "timeline": "in about a month",
    "company": "Lakeshore Cycles",
    "person_name": "Marta Nowak",
    "email": "marta@lakeshore.example",
    "phone": "+34600111222",
    "consent": True,
}
SKIPPED_ALL = {slot: "unknown" for slot in ("need", "budget", "authority", "timeline", "company")} | {
    "person_name": "unknown",
    "email": "unknown",
    "phone": "unknown",
    "consent": False,
}


def restarted_form(stored: dict[str, Any], intent: str = "greet", text: str = "hi") -> Tracker:
    """The tracker Rasa sends when the form is activated again: the visitor's message, then every stored
    slot set once more (Rasa's FormAction validates pre-filled slots on activation)."""
    slots = {name: None for name in DOMAIN["slots"]} | {"language": "en"} | stored
    message = {
        "text": text,
        "intent": {"name": intent},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
    }
    events: list[dict[str, Any]] = [{"event": "user", "text": text, "parse_data": message}]
    events += [{"event": "slot", "name": name, "value": value} for name, value in stored.items()]
    return Tracker(
        "returning", slots, message, events, False, None, {"name": "qualification_form"}, "action_listen"
    )


def revalidated(stored: dict[str, Any], **message: str) -> tuple[dict[str, Any], list[str | None]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(
        ValidateQualificationForm().run(dispatcher, restarted_form(stored, **message), DOMAIN)
    )
    values = {e["name"]: e["value"] for e in events if e.get("event") == "slot" and e["name"] in stored}
    return values, [m.get("response") for m in dispatcher.messages]


@pytest.mark.parametrize("stored", [ANSWERED, SKIPPED_ALL], ids=["answered", "skipped"])
@pytest.mark.parametrize("message", [{}, {"intent": "request_sales", "text": "I'd like a quote"}])
def test_every_stored_slot_validates_to_itself(stored: dict[str, Any], message: dict[str, str]) -> None:
    values, said = revalidated(stored, **message)
    changed = {slot: (stored[slot], values[slot]) for slot in values if values[slot] != stored[slot]}
    assert changed == {}
    assert said == []  # nothing is re-asked or complained about


def test_restarting_the_form_keeps_an_sql_lead_sql() -> None:
    policy = load_policy(ROOT / "crm_core" / "qualification" / "qualification_policy.yml")
    before = verdict_on(facts_from_slots(ANSWERED), policy)
    values, _ = revalidated(ANSWERED)
    after = verdict_on(facts_from_slots(ANSWERED | values), policy)
    assert before.qualification.value == "sql"
    assert (after.qualification, after.score) == (before.qualification, before.score)

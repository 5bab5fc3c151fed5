"""Validation of the qualification form: each answer is normalised by crm_core.parsing or re-asked."""

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from crm_core.parsing import (
    parse_authority,
    parse_budget,
    parse_company,
    parse_email,
    parse_person_name,
    parse_timeline_days,
)

Slots = dict[str, Any]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


class ValidateQualificationForm(FormValidationAction):  # type: ignore[misc]
    def name(self) -> str:
        return "validate_qualification_form"

    async def extract_need(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        """A visitor who opens with what they need has answered the first question already."""
        message = tracker.latest_message
        opening = tracker.get_slot("requested_slot") is None and tracker.get_slot("need") is None
        if opening and message.get("intent", {}).get("name") == "inform" and _text(message.get("text")):
            return {"need": _text(message.get("text"))}
        return {}

    def validate_need(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        need = _text(value)
        if not need:
            dispatcher.utter_message(response="utter_invalid_answer")
            return {"need": None}
        return {"need": need[:2000]}

    def validate_budget(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        budget = parse_budget(_text(value))
        if budget is None:
            dispatcher.utter_message(response="utter_invalid_budget")
            return {"budget": None}
        return {
            "budget": _text(value),
            "budget_amount": str(budget.amount) if budget.amount is not None else None,
            "budget_currency": budget.currency,
            "budget_none_yet": budget.none_yet,
        }

    def validate_authority(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if not _text(value):
            dispatcher.utter_message(response="utter_invalid_answer")
            return {"authority": None}
        return {"authority": parse_authority(_text(value)).value}

    def validate_timeline(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        if not _text(value):
            dispatcher.utter_message(response="utter_invalid_answer")
            return {"timeline": None}
        return {"timeline": _text(value), "timeline_days": parse_timeline_days(_text(value))}

    def validate_company(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        company = parse_company(_text(value))
        if company is None:
            dispatcher.utter_message(response="utter_invalid_answer")
        return {"company": company}

    def validate_person_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        name = parse_person_name(_text(value))
        if name is None:
            dispatcher.utter_message(response="utter_invalid_answer")
        return {"person_name": name}

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        email = parse_email(_text(value))
        if email is None:
            dispatcher.utter_message(response="utter_invalid_email", email=_text(value)[:80])
        return {"email": email}

    def validate_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Slots:
        intent = tracker.latest_message.get("intent", {}).get("name")
        if intent == "affirm":
            return {"consent": True}
        if intent == "deny":
            return {"consent": False}
        dispatcher.utter_message(response="utter_invalid_consent")
        return {"consent": None}

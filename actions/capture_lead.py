"""Hands what the conversation learned to crm_core, then tells the visitor what happens next."""

import logging
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.dialogue import latest_intent, slot_or_none
from crm_core.db import unit_of_work
from crm_core.leads import capture_lead
from crm_core.models import Authority, Qualification
from crm_core.policy import LeadFacts
from crm_core.schemas import ConversationRef

log = logging.getLogger(__name__)

NEXT_STEPS = {
    Qualification.SQL: "utter_next_steps_sql",
    Qualification.MQL: "utter_next_steps_mql",
    Qualification.SUSPECT: "utter_next_steps_suspect",
    Qualification.NURTURE: "utter_next_steps_nurture",
    Qualification.DISQUALIFIED: "utter_disqualified",
}


def facts_from_slots(slots: dict[str, Any]) -> LeadFacts:
    """The lead as crm_core sees it, from the slots the form validated (skipped answers are unknown)."""
    slots = {name: slot_or_none(value) for name, value in slots.items()}
    amount = slots.get("budget_amount")
    timeline_days = slots.get("timeline_days")
    size = slots.get("company_size")
    return LeadFacts(
        need=slots.get("need"),
        budget_amount=Decimal(amount) if amount is not None else None,
        budget_currency=slots.get("budget_currency"),
        budget_none_yet=bool(slots.get("budget_none_yet")),
        authority=Authority(slots.get("authority") or Authority.UNKNOWN),
        timeline_days=int(timeline_days) if timeline_days is not None else None,
        company=slots.get("company"),
        company_size=int(size) if size is not None else None,
        name=slots.get("person_name"),
        email=slots.get("email"),
        phone=slots.get("phone"),
        consent=slots.get("consent") is True,
        just_asking=slots.get("just_asking") is True,
        bought_competitor=slots.get("bought_competitor") is True,
    )


class ActionCaptureLead(Action):  # type: ignore[misc]
    def name(self) -> str:
        return "action_capture_lead"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        facts = facts_from_slots(tracker.current_slot_values())
        channel = tracker.get_latest_input_channel() or "unknown"
        language = tracker.get_slot("language") or "en"
        try:
            with unit_of_work() as session:
                lead = capture_lead(
                    session,
                    facts,
                    ConversationRef(channel=channel, sender_id=tracker.sender_id),
                    language=language,
                    source=channel,
                )
        except SQLAlchemyError:
            log.exception("could not store the lead of conversation %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_lead_not_saved")
            return []
        response = NEXT_STEPS[lead.qualification]
        if latest_intent(tracker) == "request_human":
            # For now a person follows up from the CRM; a live handoff to a rep's chat comes later.
            response = "utter_handoff"
        elif lead.qualification is Qualification.SQL and lead.assigned_rep is None:
            response = "utter_next_steps_sql_queued"
        dispatcher.utter_message(
            response=response,
            name_suffix=f", {facts.name}" if facts.name else "",
            rep_name=lead.assigned_rep or "",
        )
        return [SlotSet("qualification", lead.qualification.value), SlotSet("lead_id", lead.id)]

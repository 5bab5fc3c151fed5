"""Hands what the conversation learned to crm_core, then tells the visitor what happens next."""

import logging
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actions import booking
from actions.crm_writes import in_thread, save_capture
from actions.dialogue import conversation_channel, current_language, slot_or_none, time_zone
from crm_core.errors import CrmError
from crm_core.models import Authority, Qualification
from crm_core.qualification.policy import LeadFacts
from crm_core.sales.leads import capture_lead
from crm_core.sales.pending_captures import PendingCapture
from crm_core.schemas import ConversationRef, LeadOut

log = logging.getLogger(__name__)

NEXT_STEPS = {
    Qualification.SQL: "utter_next_steps_sql",
    Qualification.MQL: "utter_next_steps_mql",
    Qualification.SUSPECT: "utter_next_steps_suspect",
    Qualification.NURTURE: "utter_next_steps_nurture",
    Qualification.DISQUALIFIED: "utter_disqualified",
}


def facts_from_slots(slots: dict[str, Any]) -> LeadFacts:
    """The lead as crm_core sees it, from the slots the form validated (skipped answers are unknown).

    Asking for a person and leaving an e-mail or phone for them is consent to be contacted about it."""
    slots = {name: slot_or_none(value) for name, value in slots.items()}
    has_contact = bool(slots.get("email") or slots.get("phone"))
    amount = slots.get("budget_amount")
    timeline_days = slots.get("timeline_days")
    size = slots.get("company_size")
    return LeadFacts(
        need=slots.get("need"),
        budget_amount=Decimal(amount) if amount is not None else None,
        budget_currency=slots.get("budget_currency"),
        budget_none_yet=bool(slots.get("budget_none_yet")),
        budget_period=slots.get("budget_period"),
        authority=Authority(slots.get("authority") or Authority.UNKNOWN),
        timeline_days=int(timeline_days) if timeline_days is not None else None,
        company=slots.get("company"),
        company_size=int(size) if size is not None else None,
        name=slots.get("person_name"),
        email=slots.get("email"),
        phone=slots.get("phone"),
        consent=slots.get("consent") is True or (slots.get("wants_person") is True and has_contact),
        just_asking=slots.get("just_asking") is True,
        bought_competitor=slots.get("bought_competitor") is True,
    )


def next_steps(
    qualification: Qualification,
    wants_a_person: bool,
    contact: str | None,
    consent: bool,
    rep: str | None,
    handed_off: bool = False,
    joining: bool = False,
) -> str:
    """What the visitor is told: only what will happen. Nobody is promised a call they can't receive, and
    one a rep is joining live is told to wait for them here."""
    if wants_a_person:
        if handed_off and joining:
            return "utter_joining_done"
        if handed_off:
            return "utter_handoff_done"
        if not contact:
            return "utter_handoff_no_contact"
        return "utter_handoff" if rep else "utter_handoff_queued"
    if qualification is Qualification.NURTURE and not (contact and consent):
        return "utter_next_steps_nurture_no_contact"
    if qualification is Qualification.SQL and rep is None:
        return "utter_next_steps_sql_queued"
    return NEXT_STEPS[qualification]


def lead_source(events: list[dict[str, Any]], channel: str) -> str:
    """Where the visitor came from, from the first message's metadata: a Telegram deep-link payload, the
    UTM source (and campaign) of the page, the referring site, or else the channel."""
    metadata: dict[str, Any] = next((e.get("metadata") or {} for e in events if e.get("event") == "user"), {})
    raw_utm = metadata.get("utm")
    utm: dict[str, Any] = raw_utm if isinstance(raw_utm, dict) else {}
    referrer = metadata.get("referrer")
    if metadata.get("source"):
        found = str(metadata["source"])
    elif utm.get("source"):
        found = "/".join(str(part) for part in (utm["source"], utm.get("campaign")) if part)
    elif isinstance(referrer, str) and referrer:
        found = urlsplit(referrer).hostname or referrer
    else:
        found = str(metadata.get("channel") or channel)
    return found[:200]


def capture(session: Session, tracker: Tracker, slots: dict[str, Any] | None = None) -> LeadOut:
    """Captures (or updates) the conversation's lead from its slots (or ``slots``, the slots as they are about
    to be), in ``session``'s transaction."""
    channel = conversation_channel(tracker)
    return capture_lead(
        session,
        facts_from_slots(tracker.current_slot_values() if slots is None else slots),
        ConversationRef(channel=channel, sender_id=tracker.sender_id),
        language=tracker.get_slot("language") or "en",
        source=lead_source(tracker.events, channel),
    )


def pending_capture(
    tracker: Tracker, hand_over: bool, slots: dict[str, Any] | None = None, correction: bool = False
) -> PendingCapture:
    """What the conversation's lead should become, from its slots (or ``slots``)."""
    channel = conversation_channel(tracker)
    return PendingCapture(
        conversation=ConversationRef(channel=channel, sender_id=tracker.sender_id),
        facts=facts_from_slots(slots if slots is not None else tracker.current_slot_values()),
        language=tracker.get_slot("language") or "en",
        source=lead_source(tracker.events, channel),
        hand_over=hand_over,
        correction=correction,
    )


async def save_lead(tracker: Tracker, hand_over: bool) -> LeadOut | None:
    """Captures (or updates) the conversation's lead from its slots; with ``hand_over``, hands it to a person
    in the same transaction: the lead, its assignment, the notifications. None when the CRM cannot take it
    now: it is kept and written as soon as it can (``actions.crm_writes``). Raises OSError when it cannot
    even be kept."""
    return await save_capture(pending_capture(tracker, hand_over))


def lead_slots(lead: LeadOut) -> list[dict[str, Any]]:
    return [
        SlotSet("qualification", lead.qualification.value),
        SlotSet("lead_id", lead.id),
        SlotSet("lead_saved", True),
    ]


def say_next_steps(dispatcher: CollectingDispatcher, response: str, facts: LeadFacts, lead: LeadOut) -> None:
    dispatcher.utter_message(
        response=response,
        name_suffix=f", {facts.name}" if facts.name else "",
        rep_name=lead.assigned_rep or "",
        contact=facts.email or facts.phone or "",
    )


class ActionCaptureLead(Action):  # type: ignore[misc]
    def name(self) -> str:
        return "action_capture_lead"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if tracker.get_slot("form_stopped"):
            return [SlotSet("form_stopped", None)]  # the visitor stopped the questions: no lead
        facts = facts_from_slots(tracker.current_slot_values())
        wants_a_person = tracker.get_slot("wants_person") is True
        handed_off = tracker.get_slot("handed_off") is True
        contact = facts.email or facts.phone
        try:
            lead = await save_lead(tracker, hand_over=wants_a_person and bool(contact) and not handed_off)
        except OSError:
            log.exception("could not even keep the lead of conversation %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_lead_not_saved")
            return []
        if lead is None:  # kept, and written once the CRM can take it: nothing to repeat
            dispatcher.utter_message(response="utter_lead_saving")
            return [SlotSet("lead_saved", True)]
        joining = tracker.get_slot("person_joining") is True
        response = next_steps(
            lead.qualification, wants_a_person, contact, facts.consent, lead.assigned_rep, handed_off, joining
        )
        say_next_steps(dispatcher, response, facts, lead)
        if not wants_a_person:  # a qualified lead with a rep: book the first call now (actions/booking.py)
            language = current_language(tracker)
            try:
                offer = await in_thread(booking.offer_after_capture, lead, time_zone(tracker), language)
                if offer is booking.ASK_ZONE:  # no channel said the zone: ask it
                    booking.say(dispatcher, await in_thread(booking.zone_question, lead.id, language))
                    return [*lead_slots(lead), *booking.zone_form_asked()]
            except (CrmError, SQLAlchemyError):  # the lead is saved; the rep will call instead
                log.exception("could not offer meeting times to lead %s", lead.id)
                offer = None
            if offer is not None:
                booking.say(dispatcher, offer)
        return lead_slots(lead)

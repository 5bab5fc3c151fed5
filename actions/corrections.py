"""Corrections after the lead was saved ("actually my e-mail is …"): the slots and the CRM lead follow.

Inside the form the validation action takes corrections; once the form is over, this action reads what the
message states, updates those slots, has crm_core correct the lead (and its contact) and re-qualify it, and
tells the visitor what changed.
"""

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.capture_lead import pending_capture
from actions.crm_writes import save_capture
from actions.dialogue import current_language, phone_regions_of, response_text, time_zone
from crm_core.models import Authority
from crm_core.understanding import (
    find_company,
    find_person_name,
    mentions_budget,
    mentions_timeline,
    parse_authority,
    parse_budget,
    parse_company_size,
    parse_email,
    parse_phone,
    parse_timeline_days,
)

log = logging.getLogger(__name__)

Slots = dict[str, Any]

# The slots a visitor sees named in the confirmation, in this order; contact details are shown with
# their new value so a typo is visible at once.
SHOWN_WITH_VALUE = ("email", "phone", "person_name", "company")
SHOWN = (*SHOWN_WITH_VALUE, "company_size", "budget", "timeline", "authority")
_FIRST_PERSON = ("i", "i'm", "im", "i am", "my", "we", "we're", "soy", "yo", "mi", "somos")


def _entity(tracker: Tracker, name: str) -> str | None:
    return next(
        (str(e["value"]) for e in tracker.latest_message.get("entities") or [] if e.get("entity") == name),
        None,
    )


def stated_facts(
    text: str,
    region: str | tuple[str, ...],
    email_entity: str | None = None,
    phone_entity: str | None = None,
    tz_name: str | None = None,
) -> Slots:
    """The facts a message states, as the form's validation stores them (read by crm_core.understanding).

    A message with an e-mail or a phone number is about the contact: its digits are not read as a budget.
    """
    slots: Slots = {}
    email = parse_email(email_entity or text)
    phone = None if email else parse_phone(phone_entity or text, region)
    if email:
        slots["email"] = email
    if phone:
        slots["phone"] = phone
    if name := find_person_name(text):
        slots["person_name"] = name
    if company := find_company(text):
        slots["company"] = company
    if (size := parse_company_size(text)) is not None:
        slots["company_size"] = size
    if email or phone:
        return slots
    if mentions_budget(text) and (budget := parse_budget(text)) is not None and size is None:
        slots.update(
            budget=text,
            budget_amount=str(budget.amount) if budget.amount is not None else None,
            budget_currency=budget.currency,
            budget_none_yet=budget.none_yet,
            budget_period=budget.period,
        )
    stated = mentions_timeline(text, tz_name=tz_name)
    if stated and (days := parse_timeline_days(text, tz_name=tz_name)) is not None:
        slots.update(timeline=text, timeline_days=days)
    first_person = any(word in _FIRST_PERSON for word in text.lower().replace(",", " ").split())
    if first_person and (role := parse_authority(text)) is not Authority.UNKNOWN:
        slots["authority"] = role.value
    return slots


def describe(changes: Slots, domain: DomainDict, language: str) -> str:
    """ "your e-mail (ana@example.com) and budget", in the visitor's language."""
    parts = []
    for slot in SHOWN:
        if slot not in changes:
            continue
        label = response_text(domain, f"utter_label_slot_{slot}", language) or slot
        parts.append(f"{label} ({changes[slot]})" if slot in SHOWN_WITH_VALUE else label)
    joiner = response_text(domain, "utter_label_and", language) or "and"
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} {joiner} {parts[-1]}"


class ActionUpdateLead(Action):  # type: ignore[misc]
    def name(self) -> str:
        return "action_update_lead"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        language = current_language(tracker)
        text = str(tracker.latest_message.get("text") or "")
        email, phone = _entity(tracker, "email"), _entity(tracker, "phone")
        changes = stated_facts(text, phone_regions_of(tracker), email, phone, time_zone(tracker))
        if not changes:
            dispatcher.utter_message(response="utter_nothing_to_update")
            return []
        slots = {**tracker.current_slot_values(), **changes}
        try:
            lead = await save_capture(pending_capture(tracker, False, slots=slots, correction=True))
        except OSError:
            log.exception("could not update the lead of conversation %s", tracker.sender_id)
            dispatcher.utter_message(response="utter_lead_not_saved")
            return []
        events = [SlotSet(slot, value) for slot, value in changes.items()]
        if lead is None:  # kept, and written once the CRM can take it
            dispatcher.utter_message(response="utter_lead_saving")
            return events
        dispatcher.utter_message(response="utter_lead_updated", changes=describe(changes, domain, language))
        return [*events, SlotSet("qualification", lead.qualification.value), SlotSet("lead_id", lead.id)]

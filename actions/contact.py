"""Contact before any promise: a visitor who asks for a person, or who already bought elsewhere, is asked how
to reach them (and, for a later check-in, whether we may) before anything is promised. One who asks for a
person while a rep can take the chat is told that the rep is joining (`actions.person.offer_a_person`); else
they hear when the team is back and are handed over as soon as they can be reached
(`ValidateQualificationForm.run`). Either way the form then asks what helps that person prepare.

`action_ask_contact` acknowledges the request and sets `needs_contact`, on which the rules branch: the form
asks only the missing contact questions (`next_question`), or the lead is
captured at once.
"""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_writes import in_thread
from actions.dialogue import SKIPPED, latest_intent
from actions.person import offer_a_person

ACKNOWLEDGEMENTS = {"request_human": "utter_handoff_ack", "bought_competitor": "utter_nurture_ack"}
CONTACT_SLOTS = ("person_name", "email", "phone", "consent")


def contact_only(slots: dict[str, Any]) -> bool:
    """Whether the form should ask only how to reach the visitor: a competitor's customer is parked for a
    later check-in."""
    return slots.get("bought_competitor") is True and slots.get("wants_person") is not True


def next_question(slots: dict[str, Any], form_slots: list[str]) -> str | None:
    """The form's next question: the first empty one in the domain's order, except that a phone number is
    asked only when there is no e-mail, and that a visitor who asked for a person or already bought
    elsewhere is asked how to reach them first (or only). None: nothing left to ask."""
    if slots.get("just_asking") is True:
        return None
    wanted = form_slots
    if slots.get("wants_person") is True:
        wanted = questions_for_a_person(slots, form_slots)
    elif contact_only(slots):
        missing = missing_contact_slots(slots, wants_person=False)
        wanted = [slot for slot in form_slots if slot in missing]
    for slot in wanted:
        if slots.get(slot) is not None:
            continue
        if slot == "phone" and slots.get("email") not in (None, SKIPPED):
            continue
        return slot
    return None


def questions_for_a_person(slots: dict[str, Any], form_slots: list[str]) -> list[str]:
    """The form's questions once a visitor asked for a person: how to reach them first (they are handed over
    as soon as they can be reached), then what helps the person prepare. No consent question: asking for a
    person is asking to be contacted."""
    contact = missing_contact_slots(slots, wants_person=True)
    return [*contact, *(slot for slot in form_slots if slot not in (*CONTACT_SLOTS, *contact))]


def missing_contact_slots(slots: dict[str, Any], wants_person: bool) -> list[str]:
    """The contact questions still to ask, in the form's order: a name, an e-mail (else a phone) and, unless
    the visitor asked for a person (which is asking to be contacted), consent."""
    missing = [] if slots.get("person_name") is not None else ["person_name"]
    has_email = slots.get("email") not in (None, SKIPPED)
    has_phone = slots.get("phone") not in (None, SKIPPED)
    if not (has_email or has_phone):
        missing += ["email", "phone"]
    if not wants_person and slots.get("consent") is None:
        missing.append("consent")
    return missing


class ActionAskContact(Action):  # type: ignore[misc]
    def name(self) -> str:
        return "action_ask_contact"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        intent = latest_intent(tracker) or ""
        slots = tracker.current_slot_values()
        missing = missing_contact_slots(slots, wants_person=intent == "request_human")
        # An e-mail or phone skipped earlier is asked again: the visitor now wants to be reached.
        reopened = [SlotSet(slot, None) for slot in ("email", "phone") if slot in missing and slots.get(slot)]
        offered: list[dict[str, Any]] = []
        if intent == "request_human":
            offered = await in_thread(offer_a_person, dispatcher, tracker)  # events only when a rep joins
            if offered and missing:  # meanwhile, how to reach the visitor and what helps the rep prepare
                dispatcher.utter_message(response="utter_while_you_wait")
        else:
            dispatcher.utter_message(response=ACKNOWLEDGEMENTS.get(intent, "utter_handoff_ack"))
        return [*reopened, *offered, SlotSet("needs_contact", bool(missing))]

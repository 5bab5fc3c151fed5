"""A visitor who asks for a person, in the dialogue. A rep on shift is asked to join the chat now (the lead is
handed to them and the conversation waits for a person); otherwise the visitor hears when the team is back,
in their own time zone, and is asked how to be reached. Who can join and when the team is back are
``crm_core.assignment.live_request``'s rules; this module only says them.

Two actions the bot runs on its own initiative, through Rasa's HTTP API (``bot/live_chat.py``):
``action_nobody_joined`` when nobody took the chat in time (asks for an e-mail or phone for a callback),
``action_resume_after_person`` when a rep handed the chat back (asks the first question still unanswered;
what Rasa's slot mappings took from the visitor's messages to the rep is undone, and what those messages
said unmistakably answers the questions still open: ``actions.told_the_rep``).
Both end with ``action_listen``, as a turn of the bot does, so the visitor's next message is read as the
answer to the question they were just asked.
"""

import logging
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.capture_lead import capture, lead_slots
from actions.crm_writes import in_thread
from actions.dialogue import SKIPPED, current_language, phone_regions_of, slot_or_none, time_zone
from actions.told_the_rep import told_the_rep, visitor_lines_while_paused
from crm_core.assignment.live_request import join_now, who_can_join
from crm_core.db import BOT, unit_of_work
from crm_core.models import utcnow

log = logging.getLogger(__name__)

FORM = "qualification_form"
LISTEN = "action_listen"

_WORDS = {
    "en": {
        "today": "today",
        "tomorrow": "tomorrow",
        "at": "at",
        "on": "on ",
        "yours": "your time",
        "days": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
        "months": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                   "October", "November", "December"),
    },
    "es": {
        "today": "hoy",
        "tomorrow": "mañana",
        "at": "a las",
        "on": "el ",
        "yours": "tu hora",
        "days": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
        "months": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
                   "octubre", "noviembre", "diciembre"),
    },
}  # fmt: skip


def _zone(name: str | None) -> tzinfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None  # a browser's zone we do not know: say it in UTC


def when_back(at: datetime, zone: str | None, language: str, now: datetime) -> str:
    """When the team is back, as the visitor reads it: "today at 17:00 (your time)", "tomorrow at 09:00",
    "on Monday at 09:00", "on 12 January at 09:00" — in their time zone when their channel says it, else in
    UTC, named as such."""
    words = _WORDS.get(language, _WORDS["en"])
    local_zone = _zone(zone)
    where = local_zone or UTC
    local, today = at.astimezone(where), now.astimezone(where).date()
    days = (local.date() - today).days
    if days <= 0:
        day = str(words["today"])
    elif days == 1:
        day = str(words["tomorrow"])
    elif days < 7:
        day = f"{words['on']}{words['days'][local.weekday()]}"
    elif language == "es":
        day = f"{words['on']}{local.day} de {words['months'][local.month - 1]}"
    else:
        day = f"{words['on']}{local.day} {words['months'][local.month - 1]}"
    label = words["yours"] if local_zone is not None else "UTC"
    return f"{day} {words['at']} {local:%H:%M} ({label})"


def offer_a_person(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """The visitor asked for a person. Someone on shift can take it: the lead is captured and handed to them
    at once (they are notified with a link to the live view) and the conversation waits for them. Nobody
    can: the visitor hears when the team is back, and the form asks how to reach them (contact first)."""
    now, language = utcnow(), current_language(tracker)
    lead, rep_name = None, None
    try:
        with unit_of_work(author=BOT) as session:
            offer = who_can_join(session, tracker.sender_id, language, now)
            if offer.rep_id is not None:
                lead = capture(session, tracker)
                rep = join_now(session, lead.id, tracker.sender_id, now)
                rep_name = rep.name if rep is not None else None
    except SQLAlchemyError:
        log.exception("could not ask a person to join conversation %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_handoff_ack")  # contact first; handed over when reachable
        return []
    if lead is not None and rep_name is not None:
        dispatcher.utter_message(response="utter_person_joining", rep_name=rep_name)
        lead = lead.model_copy(update={"assigned_rep": rep_name})
        return [SlotSet("person_joining", True), SlotSet("handed_off", True), *lead_slots(lead)]
    if offer.back_at is not None:
        when = when_back(offer.back_at, time_zone(tracker), language, now)
        dispatcher.utter_message(response="utter_team_back", when=when)
    else:
        dispatcher.utter_message(response="utter_nobody_free")
    return []


def _contact(tracker: Tracker) -> str | None:
    found = slot_or_none(tracker.get_slot("email")) or slot_or_none(tracker.get_slot("phone"))
    return str(found) if found else None


def say_first(dispatcher: CollectingDispatcher, response: str, **values: Any) -> None:
    """A line the bot says on its own initiative, marked so (``spoken_first`` in the bot event's metadata):
    channels that only follow the transcript, such as the Telegram gateway, relay it to the visitor."""
    dispatcher.utter_message(response=response, spoken_first=True, **values)


class ActionNobodyJoined(Action):  # type: ignore[misc]
    """Nobody took the chat within the wait (the notifier gave it back to the bot): say so, and ask for an
    e-mail or phone for a callback unless the visitor left one; the lead keeps its rep."""

    def name(self) -> str:
        return "action_nobody_joined"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [SlotSet("person_joining", False)]
        contact = _contact(tracker)
        if contact is not None:
            say_first(dispatcher, "utter_nobody_joined_will_call", contact=contact)
            asked = tracker.get_slot(REQUESTED_SLOT) if tracker.active_loop_name == FORM else None
            if asked:
                say_first(dispatcher, f"utter_ask_{asked}")  # the question still open
            return [*events, ActionExecuted(LISTEN)]
        say_first(dispatcher, "utter_nobody_joined_ask_contact")
        skipped = [SlotSet(slot, None) for slot in ("email", "phone") if tracker.get_slot(slot) == SKIPPED]
        return [*events, *skipped, ActiveLoop(FORM), SlotSet(REQUESTED_SLOT, "email"), ActionExecuted(LISTEN)]


def undo_while_paused(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The slots Rasa filled from what the visitor wrote to the rep (its slot mappings run even while the
    conversation is paused: "our budget is about 10k" to the rep became the name the form had asked for),
    with the values they had when the rep took over. What the visitor told the rep is the rep's to use."""
    paused_at = next((i for i in range(len(events) - 1, -1, -1) if events[i].get("event") == "pause"), None)
    if paused_at is None:
        return {}
    before: dict[str, Any] = {}
    for event in events[:paused_at]:
        if event.get("event") == "slot":
            before[event["name"]] = event.get("value")
    changed = {event["name"] for event in events[paused_at:] if event.get("event") == "slot"}
    return {name: before.get(name) for name in sorted(changed)}


class ActionResumeAfterPerson(Action):  # type: ignore[misc]
    """A rep handed the chat back: what is answered stays answered; the form goes on from the first
    question still open (or the bot offers more help when nothing is)."""

    def name(self) -> str:
        return "action_resume_after_person"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        from actions.contact import next_question  # actions.contact imports this module

        form_slots = list(domain.get("forms", {}).get(FORM, {}).get("required_slots", []))
        restored = undo_while_paused(tracker.events)
        slots = tracker.current_slot_values() | restored
        learned = told_the_rep(
            visitor_lines_while_paused(tracker.events),
            slots,
            tz_name=time_zone(tracker),
            language=current_language(tracker),
            regions=phone_regions_of(tracker),
        )
        slots |= learned
        asked = next_question(slots, form_slots)
        events: list[EventType] = [SlotSet(name, value) for name, value in (restored | learned).items()]
        events.append(SlotSet("person_joining", False))
        if learned and slots.get("lead_id") is not None:
            events.extend(await in_thread(self._update_lead, tracker, slots))
        if asked is None:
            say_first(dispatcher, "utter_back_nothing_missing")
            if tracker.active_loop_name == FORM:
                events.append(ActiveLoop(None))
            return [*events, SlotSet(REQUESTED_SLOT, None), ActionExecuted(LISTEN)]
        say_first(dispatcher, "utter_back_from_person")
        say_first(dispatcher, f"utter_ask_{asked}")
        return [*events, ActiveLoop(FORM), SlotSet(REQUESTED_SLOT, asked), ActionExecuted(LISTEN)]

    @staticmethod
    def _update_lead(tracker: Tracker, slots: dict[str, Any]) -> list[EventType]:
        """The lead, with what the visitor told the rep: its class may change now, not at the form's end."""
        try:
            with unit_of_work(author=BOT) as session:
                lead = capture(session, tracker, slots)
        except SQLAlchemyError:  # the facts stay in the slots; the form's end saves them
            log.exception("could not update the lead of conversation %s after a hand-back", tracker.sender_id)
            return []
        return lead_slots(lead)

"""Booking in the chat (``actions.booking``): the offer after a qualified lead is saved (the visitor's time
zone asked first when no channel said it), then the visitor's pick from a button or in their own words,
against a real database (times relative to now: the actions book with the real clock)."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.booking import (
    ASK_ZONE,
    ActionAskVisitorTimezone,
    ActionBookMeeting,
    ActionOfferMeeting,
    ValidateTimezoneForm,
    offer_after_capture,
    pick,
)
from crm_core.db import unit_of_work
from crm_core.models import Meeting
from crm_core.people.reps import add_rep, list_reps
from crm_core.sales.leads import capture_lead
from crm_core.scheduling import meetings
from crm_core.schemas import ConversationRef, LeadOut, NewRep
from tests.console import hot_facts

DOMAIN: dict[str, Any] = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())
EVERY_DAY = {d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
ES_MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


def in_rosas_hours() -> datetime:
    """The latest 10:00 UTC so far: routing gives a lead only to a rep on shift, whatever the tests' clock."""
    now = datetime.now(UTC)
    ten = now.replace(hour=10, minute=0, second=0, microsecond=0)
    return ten if ten <= now else ten - timedelta(days=1)


def qualified_lead(url: str, email: str = "marta@lakeshore.example", sender: str = "visitor-1") -> LeadOut:
    """A hot lead routed to Rosa (added with the first one), who works every day 09-17 UTC."""
    with unit_of_work(url) as session:
        if not list_reps(session):
            add_rep(
                session, NewRep(name="Rosa", languages=["en", "es"], timezone="UTC", working_hours=EVERY_DAY)
            )
        return capture_lead(
            session,
            hot_facts("Marta", email),
            ConversationRef(channel="rest", sender_id=sender),
            now=in_rosas_hours(),
        )


def choose(value: str) -> str:
    return "/book_meeting" + json.dumps({"meeting_time": value}, separators=(",", ":"))


def run_action(text: str, lead_id: int | None, meeting_id: int | None = None, entity: str | None = None,
               language: str = "en", zone: str | None = None, lead_saved: bool | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    message = {
        "text": text,
        "intent": {"name": "book_meeting", "confidence": 0.99},
        "entities": [{"entity": "meeting_time", "value": entity}] if entity else [],
    }
    metadata = {"timezone": zone} if zone else {}
    events = [{"event": "user", "text": text, "parse_data": message, "metadata": metadata}]
    slots = {name: None for name in DOMAIN["slots"]} | {
        "language": language,
        "lead_id": lead_id,
        "meeting_id": meeting_id,
        "lead_saved": lead_saved,
    }
    tracker = Tracker("visitor-1", slots, message, events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ActionBookMeeting().run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages, result


def test_a_qualified_lead_is_offered_the_reps_free_times_in_the_visitors_zone_and_language(crm: str) -> None:
    lead = qualified_lead(crm)
    assert lead.assigned_rep == "Rosa"
    offer = offer_after_capture(lead, "America/Bogota", "es")
    assert offer is not None and offer.response == "utter_meeting_offer"
    assert offer.values == {"rep_name": "Rosa", "time_zone": "America/Bogota"}
    *times, more, no = offer.buttons
    with unit_of_work(crm) as session:
        slots = meetings.offer_slots(session, lead.id)
    assert 3 <= len(times) <= 5 and [b["payload"] for b in times] == [
        choose(f"{s:%Y-%m-%dT%H:%M:%SZ}") for s in slots
    ]
    first = slots[0].astimezone(ZoneInfo("America/Bogota"))
    assert times[0]["title"].endswith(f"{first:%H:%M}")  # Bogotá's clock, not the rep's UTC
    assert (more["title"], no["title"]) == ("Otras horas", "No, gracias")
    assert more["payload"] == choose(f"more:{slots[-1]:%Y-%m-%dT%H:%M:%SZ}") and no["payload"] == choose(
        "none"
    )
    assert all(len(b["payload"].encode()) <= 64 for b in offer.buttons)  # Telegram's callback_data limit


def test_picking_a_button_books_it_and_a_second_pick_moves_it(crm: str) -> None:
    lead = qualified_lead(crm)
    with unit_of_work(crm) as session:
        slots = meetings.offer_slots(session, lead.id)
    said, events = run_action(
        choose(f"{slots[0]:%Y-%m-%dT%H:%M:%SZ}"), lead.id, entity=f"{slots[0]:%Y-%m-%dT%H:%M:%SZ}"
    )
    [booked] = said
    assert booked["response"] == "utter_meeting_booked" and booked["rep_name"] == "Rosa"
    assert booked["invited"] == " I sent an invitation to marta@lakeshore.example."
    [slot_event] = events
    meeting_id = slot_event["value"]
    later = f"{slots[1]:%Y-%m-%dT%H:%M:%SZ}"
    said, _ = run_action(choose(later), lead.id, meeting_id=meeting_id, entity=later)
    assert said[0]["response"] == "utter_meeting_booked"
    with unit_of_work(crm) as session:
        [meeting] = session.scalars(select(Meeting)).all()
        assert (meeting.id, meeting.starts_at, meeting.sequence) == (meeting_id, slots[1], 1)


def test_other_times_no_thanks_and_no_lead(crm: str) -> None:
    lead = qualified_lead(crm)
    with unit_of_work(crm) as session:
        slots = meetings.offer_slots(session, lead.id)
    after = f"more:{slots[-1]:%Y-%m-%dT%H:%M:%SZ}"
    [more], _ = run_action(choose(after), lead.id, entity=after)
    assert more["response"] == "utter_meeting_more"
    assert more["buttons"][0]["payload"] > choose(f"{slots[-1]:%Y-%m-%dT%H:%M:%SZ}")  # later than the offer
    [no], events = run_action(choose("none"), lead.id, entity="none")
    assert no["response"] == "utter_meeting_declined" and events == []
    said, events = run_action("thursday at 10 works", None)
    assert said == [] and events == [{"event": "followup", "name": "action_open_enquiry", "timestamp": None}]
    [not_yet], _ = run_action("thursday at 10 works", None, lead_saved=True)  # kept while the CRM is down
    assert not_yet["response"] == "utter_meeting_not_yet"


def test_written_times_book_the_slot_or_offer_the_nearest_or_ask_again(crm: str) -> None:
    lead = qualified_lead(crm)
    with unit_of_work(crm) as session:
        slot = meetings.offer_slots(session, lead.id)[2]
    words = f"el {slot.day} de {ES_MONTHS[slot.month - 1]} a las {slot:%H:%M}"
    [booked], _ = run_action(words, lead.id, language="es")
    assert booked["response"] == "utter_meeting_booked" and booked["when"].endswith(f"{slot:%H:%M} (UTC)")
    night = f"{slot:%B} {slot.day} at 3am"
    [nearest], _ = run_action(night, lead.id)
    assert nearest["response"] == "utter_meeting_nearest"
    assert nearest["buttons"][0]["title"] == "Yes, book it"
    [unclear], _ = run_action("purple elephants", lead.id)
    assert unclear["response"] == "utter_meeting_unclear" and len(unclear["buttons"]) >= 5


def test_a_time_taken_meanwhile_gets_the_free_times_again(crm: str) -> None:
    first = qualified_lead(crm)
    second = qualified_lead(crm, "luis@fjord.example", "visitor-2")
    with unit_of_work(crm) as session:
        slot = meetings.offer_slots(session, first.id)[0]
        assert second.assigned_rep_id == first.assigned_rep_id
        meetings.book(session, second.id, slot)
    reply = pick(first.id, None, f"{slot:%Y-%m-%dT%H:%M:%SZ}", "", None, "en")
    assert reply.response == "utter_meeting_taken" and reply.meeting_id is None
    assert choose(f"{slot:%Y-%m-%dT%H:%M:%SZ}") not in [b["payload"] for b in reply.buttons]


def run(action: Action, text: str, intent: str, slots: dict[str, Any], after: list[dict[str, Any]] | None = None,
        entity: str | None = None, before: tuple[dict[str, Any], ...] | list[dict[str, Any]] = ()
        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
    """``action`` run after the visitor wrote ``text`` (read as ``intent``, with a button's ``entity``), then
    ``after`` (the slot mappings' events)."""
    entities = [{"entity": "meeting_time", "value": entity}] if entity else []
    message = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": entities}
    events = [*before, {"event": "user", "text": text, "parse_data": message, "metadata": {}}, *(after or [])]
    values = {name: None for name in DOMAIN["slots"]} | {"language": "en"} | slots
    tracker = Tracker("visitor-1", values, message, events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    result = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages, result


def answer_zone(lead_id: int, text: str, intent: str = "inform", earlier: int = 0) -> Any:
    """What validate_timezone_form makes of an answer to the time zone question (after ``earlier`` ones)."""
    asked = [{"event": "active_loop", "name": "timezone_form"}]
    answered = [{"event": "user", "text": "hmm", "parse_data": {}, "metadata": {}}] * earlier
    filled = [{"event": "slot", "name": "visitor_timezone", "value": text}]
    slots = {"lead_id": lead_id, "requested_slot": "visitor_timezone", "visitor_timezone": text}
    _, events = run(ValidateTimezoneForm(), text, intent, slots, filled, before=asked + answered)
    return next(e["value"] for e in events if e.get("name") == "visitor_timezone")


def test_without_a_zone_from_the_channel_the_zone_is_asked_before_the_offer(crm: str) -> None:
    lead = qualified_lead(crm)
    assert offer_after_capture(lead, None, "en") is ASK_ZONE
    [asked], _ = run(ActionAskVisitorTimezone(), "yes", "affirm", {"lead_id": lead.id})
    assert asked["response"] == "utter_ask_timezone"
    assert [b["title"] for b in asked["buttons"]] == ["UTC", "New York", "London", "Los Angeles",
                                                      "Rosa's time is fine"]  # fmt: skip
    assert asked["buttons"][1]["payload"] == '/inform{"visitor_timezone":"America/New_York"}'
    assert asked["buttons"][-1]["payload"] == '/inform{"visitor_timezone":"UTC"}'  # Rosa's zone
    assert all(len(b["payload"].encode()) <= 64 for b in asked["buttons"])
    slots = {"lead_id": lead.id, "requested_slot": "visitor_timezone", "language": "es"}
    [again], _ = run(ActionAskVisitorTimezone(), "por ahí", "inform", slots)
    assert again["response"] == "utter_timezone_unclear" and again["buttons"][-1]["title"] == (
        "Me vale la hora de Rosa"
    )


def test_the_answer_is_a_city_a_button_an_offset_or_a_skip_and_an_unreadable_one_is_asked_again_once(
    crm: str,
) -> None:
    lead = qualified_lead(crm)
    assert answer_zone(lead.id, "Ciudad de México") == "America/Mexico_City"
    assert answer_zone(lead.id, "America/New_York") == "America/New_York"  # a button's entity
    assert answer_zone(lead.id, "I'm on UTC-5", "out_of_scope") == "Etc/GMT+5"
    assert answer_zone(lead.id, "purple elephants") is None  # the form asks again
    assert answer_zone(lead.id, "purple elephants", earlier=1) == "UTC"  # once: not held by the question
    assert answer_zone(lead.id, "skip") == "UTC"  # Rosa's
    assert answer_zone(lead.id, "rather not", "rather_not_say") == "UTC"


def test_the_zone_told_is_used_by_the_offer_the_confirmation_and_the_meeting(crm: str) -> None:
    lead = qualified_lead(crm)
    told = {"lead_id": lead.id, "visitor_timezone": "America/Mexico_City", "language": "es"}
    [offer], events = run(ActionOfferMeeting(), "Ciudad de México", "inform", told)
    assert offer["response"] == "utter_meeting_offer" and offer["time_zone"] == "America/Mexico_City"
    assert events == []
    first = json.loads(offer["buttons"][0]["payload"].removeprefix("/book_meeting"))["meeting_time"]
    [booked], _ = run(ActionBookMeeting(), first, "book_meeting", told, entity=first)
    assert booked["response"] == "utter_meeting_booked" and booked["when"].endswith("(America/Mexico_City)")
    with unit_of_work(crm) as session:
        [meeting] = session.scalars(select(Meeting)).all()
    assert meeting.visitor_timezone == "America/Mexico_City"
    assert f"{meeting.starts_at:%Y-%m-%dT%H:%M:%SZ}" == first

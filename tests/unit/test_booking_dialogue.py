"""Booking in the chat (``actions.booking``): the offer after a qualified lead is saved, then the visitor's
pick from a button or in their own words, against a real database (times relative to now: the actions
book with the real clock)."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.booking import ActionBookMeeting, offer_after_capture, pick
from crm_core import meetings
from crm_core.db import unit_of_work
from crm_core.leads import capture_lead
from crm_core.models import Meeting
from crm_core.reps import add_rep, list_reps
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
               language: str = "en", zone: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # fmt: skip
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
    [not_yet], _ = run_action("thursday at 10 works", None)
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

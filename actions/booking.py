"""Booking the first meeting in the chat: the offer after a qualified lead is saved, and the visitor's pick.

A pick comes from a button (``/book_meeting{"meeting_time": …}``: a slot in UTC, ``more:<after>`` for
other times, ``none``) or from their words ("Thursday afternoon"), read in their time zone. Times are shown
in the visitor's zone (the widget says it; else the rep's, named in the text) and language. With a meeting
booked already, a new pick moves it. crm_core decides what is free and books; this maps the turn to it.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.crm_writes import in_thread
from actions.dialogue import current_language, time_zone
from crm_core import meetings
from crm_core.db import BOT, unit_of_work
from crm_core.errors import CrmError
from crm_core.invitations import when_text
from crm_core.models import Lead, Meeting, MeetingStatus, Qualification, utcnow
from crm_core.schemas import LeadOut
from crm_core.understanding import wished_time

LABELS = {
    "en": {"more": "Other times", "none": "No thanks", "yes": "Yes, book it"},
    "es": {"more": "Otras horas", "none": "No, gracias", "yes": "Sí, resérvala"},
}


@dataclass
class Reply:
    response: str
    values: dict[str, str] = field(default_factory=dict)
    buttons: list[dict[str, str]] = field(default_factory=list)
    meeting_id: int | None = None


def _payload(value: str) -> str:
    return "/book_meeting" + json.dumps({"meeting_time": value}, separators=(",", ":"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def buttons(slots: list[datetime], zone: str, language: str, more: bool = True) -> list[dict[str, str]]:
    """One button a slot (its time in the visitor's zone and words), then "other times" and "no thanks"."""
    labels = LABELS.get(language, LABELS["en"])
    locale = language if language in LABELS else "en"
    shown = [
        {
            "title": format_datetime(s, "EEE d MMM, HH:mm", tzinfo=ZoneInfo(zone), locale=locale),
            "payload": _payload(_iso(s)),
        }
        for s in slots
    ]
    if more and slots:
        shown.append({"title": labels["more"], "payload": _payload(f"more:{_iso(slots[-1])}")})
    shown.append({"title": labels["none"], "payload": _payload("none")})
    return shown


def _zone(session: Session, lead_id: int, visitor_zone: str | None) -> str:
    if visitor_zone:
        try:
            return meetings.check_timezone(visitor_zone)
        except CrmError:
            pass
    lead = session.get(Lead, lead_id)
    return lead.assigned_rep.timezone if lead is not None and lead.assigned_rep is not None else "UTC"


def _rep_name(session: Session, lead_id: int) -> str:
    lead = session.get(Lead, lead_id)
    return lead.assigned_rep.name if lead is not None and lead.assigned_rep is not None else ""


def offer(
    session: Session, lead_id: int, zone: str, language: str, response: str, after: datetime | None = None
) -> Reply:
    slots = meetings.offer_slots(session, lead_id, after=after)
    rep = _rep_name(session, lead_id)
    if not slots:
        return Reply("utter_meeting_no_slots", {"rep_name": rep})
    return Reply(response, {"rep_name": rep, "time_zone": zone}, buttons(slots, zone, language))


def offer_after_capture(lead: LeadOut, visitor_zone: str | None, language: str) -> Reply | None:
    """The offer that ends a qualified conversation: a SQL lead with a rep and no meeting booked yet."""
    if lead.qualification is not Qualification.SQL or lead.assigned_rep_id is None:
        return None
    with unit_of_work(author=BOT) as session:
        if any(m.status == "booked" for m in meetings.of_lead(session, lead.id)):
            return None
        return offer(session, lead.id, _zone(session, lead.id, visitor_zone), language, "utter_meeting_offer")


def _book(
    session: Session, lead_id: int, meeting_id: int | None, start: datetime, zone: str, language: str
) -> Reply:
    current = session.get(Meeting, meeting_id) if meeting_id else None
    if current is not None and current.lead_id == lead_id and current.status is MeetingStatus.BOOKED:
        booked = meetings.reschedule(session, current.id, start, lead_id)
    else:
        booked = meetings.book(session, lead_id, start, zone)
    lead = session.get(Lead, lead_id)
    email = lead.contact.email if lead is not None else None
    invited = {"en": f" I sent an invitation to {email}.", "es": f" Te envié una invitación a {email}."}
    return Reply(
        "utter_meeting_booked",
        {
            "when": when_text(booked.starts_at, zone, language),
            "rep_name": _rep_name(session, lead_id),
            "invited": invited.get(language, invited["en"]) if email else "",
        },
        meeting_id=booked.id,
    )


def pick(
    lead_id: int | None,
    meeting_id: int | None,
    choice: str | None,
    text: str,
    visitor_zone: str | None,
    language: str,
    now: datetime | None = None,
) -> Reply:
    """What the visitor's pick (a button's ``choice``, else their ``text``) does."""
    now = now or utcnow()
    if lead_id is None:
        return Reply("utter_meeting_not_yet")
    with unit_of_work(author=BOT) as session:
        decided = _decide(session, lead_id, choice, text, visitor_zone, language, now)
    if isinstance(decided, Reply):
        return decided
    start, zone = decided
    try:
        with unit_of_work(author=BOT) as session:
            return _book(session, lead_id, meeting_id, start, zone, language)
    except meetings.SlotTaken:  # taken since it was offered: rolled back, the free times again
        with unit_of_work(author=BOT) as session:
            return offer(session, lead_id, zone, language, "utter_meeting_taken")


def _decide(
    session: Session,
    lead_id: int,
    choice: str | None,
    text: str,
    visitor_zone: str | None,
    language: str,
    now: datetime,
) -> Reply | tuple[datetime, str]:
    """A reply, or the slot to book and the visitor's zone."""
    lead = session.get(Lead, lead_id)
    if lead is None or lead.assigned_rep_id is None:
        return Reply("utter_meeting_not_yet")
    zone = _zone(session, lead_id, visitor_zone)
    if choice == "none":
        return Reply("utter_meeting_declined", {"rep_name": _rep_name(session, lead_id)})
    if choice and choice.startswith("more:"):
        return offer(
            session, lead_id, zone, language, "utter_meeting_more", _parse(choice.removeprefix("more:"))
        )
    start = _parse(choice) if choice else None
    if start is not None:
        return start, zone
    wish = wished_time(text, now, language, zone) if text else None
    if wish is None:
        return offer(session, lead_id, zone, language, "utter_meeting_unclear")
    found = meetings.slot_near(session, lead_id, wish[0], wish[1], now)
    if found.start is None:
        return Reply("utter_meeting_no_slots", {"rep_name": _rep_name(session, lead_id)})
    if found.exact:
        return found.start, zone
    labels = LABELS.get(language, LABELS["en"])
    yes = [{"title": labels["yes"], "payload": _payload(_iso(found.start))}]
    rest = buttons([found.start], zone, language)[1:]
    return Reply("utter_meeting_nearest", {"when": when_text(found.start, zone, language)}, yes + rest)


def _parse(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def say(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    dispatcher.utter_message(response=reply.response, buttons=reply.buttons or None, **reply.values)


class ActionBookMeeting(Action):  # type: ignore[misc]
    def name(self) -> str:
        return "action_book_meeting"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        entities = tracker.latest_message.get("entities") or []
        choice = next((str(e["value"]) for e in entities if e.get("entity") == "meeting_time"), None)
        text = str(tracker.latest_message.get("text") or "")
        reply = await in_thread(
            pick,
            tracker.get_slot("lead_id"),
            tracker.get_slot("meeting_id"),
            choice,
            "" if text.startswith("/") else text,
            time_zone(tracker),
            current_language(tracker),
        )
        say(dispatcher, reply)
        return [SlotSet("meeting_id", reply.meeting_id)] if reply.meeting_id else []

"""Booking the first meeting in the chat: the offer after a qualified lead is saved, and the visitor's pick.

A pick comes from a button (``/book_meeting{"meeting_time": …}``: a slot in UTC, ``more:<after>`` for
other times, ``none``) or from their words ("Thursday afternoon"), read in their time zone. Times are shown
in the visitor's zone and language: the widget says the zone; when no channel does (Telegram), it is
asked once before the first offer and ``timezone_form`` reads the answer (buttons, or a city, country,
IANA name or offset read by ``actions.visitor_zone``; skipped: the rep's, named in the text). With a
meeting booked already, a new pick moves it. crm_core decides what is free and books; this maps the turn
to it.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict
from sqlalchemy.orm import Session

from actions.crm_writes import in_thread
from actions.dialogue import current_language, latest_intent, time_zone
from actions.visitor_zone import choices, plain, read_time_zone, zone_label
from crm_core.db import BOT, unit_of_work
from crm_core.errors import CrmError
from crm_core.models import Lead, Meeting, MeetingStatus, Qualification, utcnow
from crm_core.scheduling import meetings
from crm_core.scheduling.invitations import when_text
from crm_core.schemas import LeadOut
from crm_core.understanding import wished_time

LABELS = {
    "en": {
        "more": "Other times",
        "none": "No thanks",
        "yes": "Yes, book it",
        "rep_time": "{rep}'s time is fine",
    },
    "es": {
        "more": "Otras horas",
        "none": "No, gracias",
        "yes": "Sí, resérvala",
        "rep_time": "Me vale la hora de {rep}",
    },
}
# Answers to the time zone question that mean "don't ask me": the rep's zone, as when no one asked.
SKIP_INTENTS = {"deny", "rather_not_say", "stop", "goodbye"}
SKIP_WORDS = {"skip", "pass", "any", "whatever", "saltar", "omitir", "paso", "da igual", "cualquiera"}


@dataclass
class Reply:
    response: str
    values: dict[str, str] = field(default_factory=dict)
    buttons: list[dict[str, str]] = field(default_factory=list)
    meeting_id: int | None = None


def _when(moment: datetime, zone: str, language: str) -> str:
    """``moment`` in the visitor's words, the zone named as they know it ("UTC-5", not "Etc/GMT+5")."""
    return when_text(moment, zone, language).replace(f"({zone})", f"({zone_label(zone)})")


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


def _rep_zone(session: Session, lead_id: int) -> str:
    return _zone(session, lead_id, None)


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
    return Reply(response, {"rep_name": rep, "time_zone": zone_label(zone)}, buttons(slots, zone, language))


ZONE_FORM = "timezone_form"
# offer_after_capture's answer when no channel said the visitor's zone: it is asked first.
ASK_ZONE = Reply(ZONE_FORM)


def zone_form_asked() -> list[dict[str, Any]]:
    """What timezone_form logs when it starts and asks its question, for an action that asked it itself
    (``zone_question``): Rasa then waits for the answer, which the form reads. Started by Rasa instead, the
    form's activation costs two action-server calls (validate_timezone_form, action_ask_visitor_timezone)
    on the turn that is already the conversation's longest (make bench-baseline: issue 17)."""
    return [ActiveLoop(ZONE_FORM), SlotSet(REQUESTED_SLOT, "visitor_timezone"), ActionExecuted(ZONE_FORM)]


def offer_after_capture(lead: LeadOut, visitor_zone: str | None, language: str) -> Reply | None:
    """The offer that ends a qualified conversation: a SQL lead with a rep and no meeting booked yet
    (``ASK_ZONE`` first when the visitor's zone is unknown)."""
    if lead.qualification is not Qualification.SQL or lead.assigned_rep_id is None:
        return None
    with unit_of_work(author=BOT) as session:
        if any(m.status == "booked" for m in meetings.of_lead(session, lead.id)):
            return None
        if visitor_zone is None:
            return ASK_ZONE
        return offer(session, lead.id, _zone(session, lead.id, visitor_zone), language, "utter_meeting_offer")


def zone_question(lead_id: int | None, language: str, again: bool = False) -> Reply:
    """Which time zone the visitor is in: the rep's city and common ones as buttons, and "the rep's time"."""
    with unit_of_work(author=BOT) as session:
        rep_zone = _rep_zone(session, lead_id) if lead_id is not None else "UTC"
        rep = _rep_name(session, lead_id) if lead_id is not None else ""
    labels = LABELS.get(language, LABELS["en"])
    shown = [{"title": label, "payload": _zone_payload(zone)} for label, zone in choices(rep_zone, language)]
    if rep:
        shown.append({"title": labels["rep_time"].format(rep=rep), "payload": _zone_payload(rep_zone)})
    return Reply("utter_timezone_unclear" if again else "utter_ask_timezone", buttons=shown)


def _zone_payload(zone: str) -> str:
    return "/inform" + json.dumps({"visitor_timezone": zone}, separators=(",", ":"))


def answered_zone(lead_id: int | None, answer: str, intent: str | None, last_try: bool = False) -> str | None:
    """The zone the visitor's answer names; the rep's when they skip the question or it is the ``last_try``
    (the second answer it cannot read: the visitor is not held by the question); None when unreadable."""
    zone = read_time_zone(answer)
    if zone is not None:
        return zone
    if last_try or intent in SKIP_INTENTS or plain(answer) in SKIP_WORDS:
        with unit_of_work(author=BOT) as session:
            return _rep_zone(session, lead_id) if lead_id is not None else "UTC"
    return None


def offer_in_zone(lead_id: int | None, zone: str | None, language: str) -> Reply | None:
    """The first offer once the visitor's zone is known (None without a lead to book for)."""
    if lead_id is None:
        return None
    with unit_of_work(author=BOT) as session:
        return offer(session, lead_id, _zone(session, lead_id, zone), language, "utter_meeting_offer")


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
            "when": _when(booked.starts_at, zone, language),
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
    return Reply("utter_meeting_nearest", {"when": _when(found.start, zone, language)}, yes + rest)


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
        no_lead = tracker.get_slot("lead_id") is None and not tracker.get_slot("lead_saved")
        if no_lead and not tracker.active_loop_name:
            # "Can someone call me tomorrow at 10?" before any question: a request for a call, so the
            # qualification starts (the rep it finds offers the times). A lead kept while the CRM is down
            # (lead_saved, no lead_id yet) is told to wait instead.
            return [FollowupAction("action_open_enquiry")]
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


class ActionAskVisitorTimezone(Action):  # type: ignore[misc]
    """timezone_form's question again, after an answer it could not read (action_capture_lead asks first)."""

    def name(self) -> str:
        return "action_ask_visitor_timezone"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        again = tracker.get_slot(REQUESTED_SLOT) == "visitor_timezone"
        say(
            dispatcher,
            await in_thread(zone_question, tracker.get_slot("lead_id"), current_language(tracker), again),
        )
        return []


class ValidateTimezoneForm(FormValidationAction):  # type: ignore[misc]
    def name(self) -> str:
        return "validate_timezone_form"

    async def validate_visitor_timezone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        last_try = answers_since_asked(tracker.events) >= 2
        args = (tracker.get_slot("lead_id"), str(value or ""), latest_intent(tracker), last_try)
        return {"visitor_timezone": await in_thread(answered_zone, *args)}


def answers_since_asked(events: list[dict[str, Any]]) -> int:
    """How many messages the visitor wrote since timezone_form started."""
    started = max((i for i, e in enumerate(events) if e.get("event") == "active_loop"
                   and e.get("name") == ZONE_FORM), default=-1)  # fmt: skip
    return sum(1 for e in events[started + 1 :] if e.get("event") == "user")


class ActionOfferMeeting(Action):  # type: ignore[misc]
    """The first offer, after timezone_form learned the visitor's zone."""

    def name(self) -> str:
        return "action_offer_meeting"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        args = (tracker.get_slot("lead_id"), time_zone(tracker), current_language(tracker))
        reply = await in_thread(offer_in_zone, *args)
        if reply is not None:
            say(dispatcher, reply)
        return []

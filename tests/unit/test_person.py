"""Asking for a person in the dialogue (actions/person.py): the visitor is told a rep is joining, or when the
team is back in their own time; nobody joined in time; the rep handed back. Real actions, real domain, a
real SQLite CRM."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.capture_lead import save_lead
from actions.contact import ActionAskContact
from actions.person import ActionNobodyJoined, ActionResumeAfterPerson, when_back
from actions.told_the_rep import told_the_rep
from crm_core.chats import ownership
from crm_core.db import unit_of_work
from crm_core.models import Lead, Notification, Owner
from crm_core.people.reps import add_rep
from crm_core.people.working_hours import WEEKDAYS
from crm_core.schemas import NewRep
from tests.unit.test_contact_first import DOMAIN

TUESDAY_23_UTC = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # Wednesday 00:00 in Madrid


@pytest.mark.parametrize(
    ("at", "zone", "language", "now", "said"),
    [
        (datetime(2026, 12, 2, 8, 0, tzinfo=UTC), "Europe/Madrid", "en", TUESDAY_23_UTC, "today at 09:00 (your time)"),
        (datetime(2026, 12, 2, 8, 0, tzinfo=UTC), None, "en", TUESDAY_23_UTC, "tomorrow at 08:00 (UTC)"),
        (datetime(2026, 12, 2, 8, 0, tzinfo=UTC), "Mars/Olympus", "en", TUESDAY_23_UTC, "tomorrow at 08:00 (UTC)"),
        (datetime(2026, 12, 7, 8, 0, tzinfo=UTC), "Europe/Madrid", "es", datetime(2026, 12, 4, 17, 0, tzinfo=UTC),
         "el lunes a las 09:00 (tu hora)"),
        (datetime(2027, 1, 12, 8, 0, tzinfo=UTC), None, "en", TUESDAY_23_UTC, "on 12 January at 08:00 (UTC)"),
        (datetime(2027, 1, 12, 8, 0, tzinfo=UTC), None, "es", TUESDAY_23_UTC, "el 12 de enero a las 08:00 (UTC)"),
    ],
)  # fmt: skip
def test_when_the_team_is_back_is_said_in_the_visitors_time(
    at: datetime, zone: str | None, language: str, now: datetime, said: str
) -> None:
    assert when_back(at, zone, language, now) == said


def tracker(sender: str, intent: str = "inform", active_loop: str | None = None, **known: Any) -> Tracker:
    slots = {name: None for name in DOMAIN["slots"]} | {"language": "en"} | known
    message = {
        "text": "…",
        "intent": {"name": intent},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
    }
    metadata = {"timezone": "Europe/Madrid"}
    events = [
        {"event": "user", "text": "…", "parse_data": message, "input_channel": "rest", "metadata": metadata}
    ]
    loop = {"name": active_loop} if active_loop else {}
    return Tracker(sender, slots, message, events, False, None, loop, "action_listen")


def run(action: Any, visitor: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, visitor, DOMAIN))
    return events, dispatcher.messages


def test_a_rep_on_shift_is_asked_to_join_and_the_conversation_waits_for_them(crm: str) -> None:
    with unit_of_work(crm) as session:
        add_rep(session, NewRep(name="Rosa Diaz", languages=["en"]))  # no hours: always on shift
    events, said = run(ActionAskContact(), tracker("live-1", "request_human", wants_person=True))
    assert [(m["response"], m.get("rep_name")) for m in said] == [
        ("utter_person_joining", "Rosa Diaz"),
        ("utter_while_you_wait", None),
    ]
    slots = {e["name"]: e["value"] for e in events}
    assert slots["person_joining"] is True and slots["handed_off"] is True and slots["needs_contact"] is True
    with unit_of_work(crm) as session:
        assert ownership.current(session, "live-1").owner is Owner.WAITING
        [notice] = session.query(Notification).all()  # the inbox; no Telegram or e-mail for this rep
        assert "waiting in the chat" in notice.reason


def test_out_of_hours_the_visitor_hears_when_the_team_is_back_and_nothing_waits(crm: str) -> None:
    with unit_of_work(crm) as session:
        # one minute, three days from now: whatever the clock, the rep is off shift now
        later = datetime.now(ZoneInfo("Europe/Madrid")) + timedelta(days=3)
        hours = {WEEKDAYS[later.weekday()]: ["10:00", "10:01"]}
        add_rep(session, NewRep(name="Rosa", languages=["en"], timezone="Europe/Madrid", working_hours=hours))
    events, said = run(ActionAskContact(), tracker("live-2", "request_human", wants_person=True))
    [told] = said
    assert told["response"] == "utter_team_back" and told["when"].endswith("at 10:00 (your time)")
    assert {e["name"]: e["value"] for e in events} == {"needs_contact": True}
    with unit_of_work(crm) as session:
        assert session.query(Notification).count() == 0  # handed over once reachable, as before


def test_nobody_joined_asks_for_an_email_or_phone_and_the_form_takes_the_answer() -> None:
    events, said = run(
        ActionNobodyJoined(), tracker("live-3", active_loop="qualification_form", email="unknown")
    )
    assert [m["response"] for m in said] == ["utter_nobody_joined_ask_contact"]
    assert events == [
        {"event": "slot", "timestamp": None, "name": "person_joining", "value": False},
        {"event": "slot", "timestamp": None, "name": "email", "value": None},
        {"event": "active_loop", "timestamp": None, "name": "qualification_form"},
        {"event": "slot", "timestamp": None, "name": "requested_slot", "value": "email"},
        {"event": "action", "timestamp": None, "name": "action_listen", "policy": None, "confidence": None},
    ]


def test_nobody_joined_with_a_contact_known_promises_a_call_there_and_repeats_the_open_question() -> None:
    known = {"email": "ilse@varga.example", "requested_slot": "budget"}
    _, said = run(ActionNobodyJoined(), tracker("live-4", active_loop="qualification_form", **known))
    assert [(m["response"], m.get("contact")) for m in said] == [
        ("utter_nobody_joined_will_call", "ilse@varga.example"),
        ("utter_ask_budget", None),
    ]


def test_after_a_hand_back_the_form_goes_on_from_the_first_question_still_open() -> None:
    known = {"need": "a bot", "budget": "5k", "person_name": "Ilse", "email": "ilse@varga.example"}
    events, said = run(ActionResumeAfterPerson(), tracker("live-5", wants_person=True, **known))
    assert [m["response"] for m in said] == ["utter_back_from_person", "utter_ask_authority"]
    assert {"event": "slot", "timestamp": None, "name": "requested_slot", "value": "authority"} in events
    assert events[-1]["name"] == "action_listen"


def test_after_a_hand_back_with_everything_answered_the_bot_offers_more_help() -> None:
    known = {
        "need": "a bot",
        "budget": "5k",
        "authority": "decision_maker",
        "timeline": "soon",
        "company": "V",
        "person_name": "Ilse",
        "email": "ilse@varga.example",
    }
    _, said = run(ActionResumeAfterPerson(), tracker("live-6", wants_person=True, **known))
    assert [m["response"] for m in said] == ["utter_back_nothing_missing"]


def test_what_the_visitor_wrote_to_the_rep_is_not_taken_as_an_answer_to_the_bots_question() -> None:
    def slot(name: str, value: Any) -> dict[str, Any]:
        return {"event": "slot", "name": name, "value": value}

    events = [
        slot("need", "a bot"),
        slot("requested_slot", "person_name"),
        {"event": "pause"},
        {"event": "user", "text": "our budget is about 10k"},
        slot("person_name", "our budget is about 10k"),  # Rasa's from_text mapping, while paused
        {"event": "resume"},
    ]
    visitor = Tracker(
        "live-7",
        {name: None for name in DOMAIN["slots"]}
        | {"language": "en", "need": "a bot", "person_name": "our budget is about 10k"},
        {"text": "our budget is about 10k", "intent": {"name": "inform"}},
        events,
        False,
        None,
        {"name": "qualification_form"},
        "action_listen",
    )
    result, said = run(ActionResumeAfterPerson(), visitor)
    assert {"event": "slot", "timestamp": None, "name": "person_name", "value": None} in result
    # what it said is the budget, and the rep has heard it: the bot goes on from the next open question
    assert {"event": "slot", "timestamp": None, "name": "budget_amount", "value": "10000"} in result
    assert [m["response"] for m in said] == ["utter_back_from_person", "utter_ask_authority"]


def paused_tracker(sender: str, told: list[str], **known: Any) -> Tracker:
    """A conversation the bot handed to a rep at the budget question, in which the visitor told the rep
    ``told``, now handed back."""
    slots = {name: None for name in DOMAIN["slots"]} | {"language": "en"} | known
    events: list[dict[str, Any]] = [
        {"event": "slot", "name": "requested_slot", "value": "budget"},
        {"event": "pause"},
        *({"event": "user", "text": text, "input_channel": "rest"} for text in told),
        {"event": "resume"},
    ]
    return Tracker(sender, slots, {"text": told[-1]}, events, False, None, {}, "action_listen")


def test_what_the_visitor_told_the_rep_is_not_asked_again_after_the_hand_back(crm: str) -> None:
    told = [
        "sure, you can write to me at nadia.okafor@quillmere.example",
        "we could put roughly 9,000 euros into it",
        "I'm the one who signs off on this",
    ]
    need = "a bot for our shop"
    saved_at_hand_off = save_lead(paused_tracker("live-8", ["…"], need=need), hand_over=False)
    lead = asyncio.run(saved_at_hand_off)
    assert lead is not None
    events, said = run(ActionResumeAfterPerson(), paused_tracker("live-8", told, need=need, lead_id=lead.id))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["email"] == "nadia.okafor@quillmere.example"
    assert (slots["budget_amount"], slots["budget_currency"]) == ("9000", "EUR")
    assert slots["authority"] == "decision_maker"
    # the first question nobody answered, neither to the bot nor to the rep
    assert [m["response"] for m in said] == ["utter_back_from_person", "utter_ask_timeline"]
    with unit_of_work(crm) as session:
        [saved] = session.query(Lead).all()  # the lead learned it too, at once
        assert saved.id == lead.id and saved.contact.email == "nadia.okafor@quillmere.example"
        assert saved.authority.value == "decision_maker"


def test_a_message_to_the_rep_never_replaces_an_answer_the_visitor_gave_the_bot() -> None:
    told = ["our finance people said 30k at most", "ok"]
    known = {"need": "a bot", "budget": "12k", "budget_amount": "12000", "lead_id": None}
    events, said = run(ActionResumeAfterPerson(), paused_tracker("live-9", told, **known))
    assert not [e for e in events if e["event"] == "slot" and e["name"].startswith("budget")]
    assert [m["response"] for m in said] == ["utter_back_from_person", "utter_ask_authority"]


@pytest.mark.parametrize(
    ("told", "expected"),
    [
        (["mi número es +34 612 48 07 93"], {"phone": "+34612480793"}),
        (["lo necesitamos antes de que acabe febrero"], {"timeline": "lo necesitamos antes de que acabe febrero"}),
        (["yo no decido, lo aprueba la gerente"], {"authority": "influencer"}),
        (["hola", "¿me oyes?"], {}),
    ],
)  # fmt: skip
def test_spanish_lines_to_the_rep_are_read_as_answers(told: list[str], expected: dict[str, Any]) -> None:
    found = told_the_rep(told, {}, tz_name="Europe/Madrid", language="es", regions=("ES",))
    assert {name: found[name] for name in expected} == expected
    assert set(found) - set(expected) <= {"timeline_days"}

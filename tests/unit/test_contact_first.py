"""Contact before any promise (actions/contact.py, the form's next question, actions/capture_lead.next_steps):
a visitor who asks for a person or already bought elsewhere is asked only how to reach them, and is told only
what will happen. Runs the real actions on the real domain."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.capture_lead import facts_from_slots, next_steps
from actions.contact import ActionAskContact
from actions.qualification_form import ValidateQualificationForm
from crm_core.chats import ownership
from crm_core.db import unit_of_work
from crm_core.models import Owner, Qualification
from crm_core.people.reps import add_rep
from crm_core.sales.leads import list_leads
from crm_core.schemas import NewRep

DOMAIN: dict[str, Any] = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())


def tracker(intent: str, **known: Any) -> Tracker:
    slots = {name: None for name in DOMAIN["slots"]} | {"language": "en"} | known
    message = {
        "text": "…",
        "intent": {"name": intent},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
    }
    events = [{"event": "user", "text": "…", "parse_data": message}]
    return Tracker("visitor", slots, message, events, False, None, {}, "action_listen")


def ask_contact(intent: str, **known: Any) -> tuple[dict[str, Any], list[str | None]]:
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ActionAskContact().run(dispatcher, tracker(intent, **known), DOMAIN))
    return {e["name"]: e["value"] for e in result}, [m.get("response") for m in dispatcher.messages]


def next_question(intent: str, **known: Any) -> str | None:
    form = ValidateQualificationForm()
    event = asyncio.run(form.next_requested_slot(CollectingDispatcher(), tracker(intent, **known), DOMAIN))
    assert event is not None
    value: str | None = event["value"]
    return value


def test_asking_for_a_person_with_nothing_known_asks_for_a_contact(crm: str) -> None:
    slots, said = ask_contact("request_human", wants_person=True)  # no rep at all: nobody can join
    assert slots == {"needs_contact": True} and said == ["utter_nobody_free"]
    assert next_question("request_human", wants_person=True) == "person_name"


def test_asking_for_a_person_asks_how_to_reach_them_first_then_what_helps_them_prepare() -> None:
    known = {"wants_person": True, "person_name": "Ilse Varga"}
    assert next_question("inform", **known) == "email"
    assert next_question("inform", **known, email="unknown") == "phone"
    reachable = {**known, "email": "ilse@varga.example"}
    assert next_question("inform", **reachable) == "need"
    answered = {
        **reachable,
        "need": "a bot",
        "budget": "5k",
        "authority": "x",
        "timeline": "soon",
        "company": "V",
    }
    assert (
        next_question("inform", **answered) is None
    )  # never consent: asking for a person is asking to be called


def test_asking_for_a_person_with_a_contact_known_needs_nothing_more(crm: str) -> None:
    slots, _ = ask_contact("request_human", wants_person=True, person_name="Ilse", phone="+34612345678")
    assert slots == {"needs_contact": False}


def test_a_contact_skipped_before_is_asked_again_when_a_person_is_wanted(crm: str) -> None:
    slots, _ = ask_contact(
        "request_human", wants_person=True, person_name="Ilse", email="unknown", phone="unknown"
    )
    assert slots == {"email": None, "phone": None, "needs_contact": True}


def test_a_competitors_customer_is_asked_for_contact_and_consent() -> None:
    slots, said = ask_contact(
        "bought_competitor", bought_competitor=True, person_name="Ravi", email="r@x.example"
    )
    assert slots == {"needs_contact": True} and said == ["utter_nurture_ack"]
    known = {"bought_competitor": True, "person_name": "Ravi", "email": "r@x.example"}
    assert next_question("inform", **known) == "consent"
    assert next_question("inform", **known, consent=False) is None


def test_without_a_special_request_the_form_asks_every_question_in_order() -> None:
    assert next_question("inform") == "need"
    assert next_question("inform", need="a bot", budget="5k", authority="decision_maker") == "timeline"


def test_leaving_a_contact_for_a_person_is_consent_to_be_contacted() -> None:
    assert facts_from_slots({"wants_person": True, "email": "a@b.example"}).consent is True
    assert facts_from_slots({"wants_person": True, "email": "unknown"}).consent is False
    assert facts_from_slots({"email": "a@b.example"}).consent is False


@pytest.mark.parametrize(
    ("qualification", "wants_person", "contact", "consent", "rep", "response"),
    [
        (Qualification.SUSPECT, True, None, False, None, "utter_handoff_no_contact"),
        (Qualification.MQL, True, "a@b.example", True, "Rosa", "utter_handoff"),
        (Qualification.MQL, True, "a@b.example", True, None, "utter_handoff_queued"),
        (Qualification.NURTURE, False, None, False, None, "utter_next_steps_nurture_no_contact"),
        (Qualification.NURTURE, False, "a@b.example", False, None, "utter_next_steps_nurture_no_contact"),
        (Qualification.NURTURE, False, "a@b.example", True, None, "utter_next_steps_nurture"),
        (Qualification.SQL, False, "a@b.example", True, None, "utter_next_steps_sql_queued"),
        (Qualification.SQL, False, "a@b.example", True, "Rosa", "utter_next_steps_sql"),
        (Qualification.SUSPECT, False, None, False, None, "utter_next_steps_suspect"),
    ],
)
def test_the_visitor_is_promised_only_what_will_happen(
    qualification: Qualification,
    wants_person: bool,
    contact: str | None,
    consent: bool,
    rep: str | None,
    response: str,
) -> None:
    assert next_steps(qualification, wants_person, contact, consent, rep) == response


def test_after_an_early_hand_off_the_end_of_the_form_says_the_team_has_it_all() -> None:
    assert (
        next_steps(Qualification.SQL, True, "a@b.example", True, "Rosa", handed_off=True)
        == "utter_handoff_done"
    )


def test_a_visitor_who_asked_for_a_person_is_handed_over_as_soon_as_they_can_be_reached(crm: str) -> None:
    with unit_of_work(crm) as session:
        add_rep(session, NewRep(name="Rosa Diaz", languages=["en"]))
    asked = {"wants_person": True, "person_name": "Ilse Varga", "requested_slot": "email"}
    text = "ilse@varga.example"
    message = {
        "text": text,
        "intent": {"name": "inform"},
        "intent_ranking": [{"name": "inform", "confidence": 0.9}],
    }
    events = [{"event": "user", "text": text, "parse_data": message, "input_channel": "rest"}]
    slots = {name: None for name in DOMAIN["slots"]} | {"language": "en", "email": text} | asked
    visitor = Tracker(
        "it-person", slots, message, events, False, None, {"name": "qualification_form"}, "action_listen"
    )
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ValidateQualificationForm().run(dispatcher, visitor, DOMAIN))
    slots_set = {e["name"]: e["value"] for e in result if e.get("event") == "slot"}
    assert slots_set["handed_off"] is True and slots_set["requested_slot"] == "need"
    said = [m.get("response") for m in dispatcher.messages]
    assert said == ["utter_handoff", "utter_while_you_wait"]
    with unit_of_work(crm) as session:
        [lead] = list_leads(session)
    assert lead.assigned_rep == "Rosa Diaz" and lead.email == "ilse@varga.example" and lead.consent is True
    with unit_of_work(crm) as session:
        # Nobody waits live on this path (nobody could join when the visitor asked); the rep may still
        # take the chat over from the lead's card.
        assert ownership.current(session, "it-person").owner is Owner.BOT


def fallback_offer(*ranking: tuple[str, float]) -> tuple[str | None, str | None]:
    """The response and the offered payload of the fallback's first stage for a classifier ``ranking``."""
    from actions.conversation import ActionDefaultAskAffirmation

    message = {"text": "…", "intent": {"name": "nlu_fallback"}, "intent_ranking": [
        {"name": "nlu_fallback", "confidence": 0.5}, *({"name": n, "confidence": c} for n, c in ranking)]}  # fmt: skip
    known = {name: None for name in DOMAIN["slots"]} | {"language": "en"}
    visitor = Tracker("visitor", known, message, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionDefaultAskAffirmation().run(dispatcher, visitor, DOMAIN))
    [said] = dispatcher.messages
    buttons = said.get("buttons") or [{}]
    return said.get("response"), buttons[0].get("payload")


def test_the_fallback_offers_a_real_request_in_the_visitors_words() -> None:
    assert fallback_offer(("request_sales", 0.4), ("inform", 0.3)) == (
        "utter_ask_affirmation",
        "/request_sales",
    )
    assert fallback_offer(("inform", 0.4), ("request_human", 0.3)) == (
        "utter_ask_affirmation",
        "/request_human",
    )


@pytest.mark.parametrize("placeholder", ["inform", "out_of_scope", "faq", "chitchat", "greet", "affirm"])
def test_the_fallback_never_offers_a_placeholder_label(placeholder: str) -> None:
    assert fallback_offer((placeholder, 0.45), ("thank", 0.2)) == ("utter_ask_rephrase", None)

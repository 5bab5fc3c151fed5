"""How the form reads a message whose intent is not a plain answer (actions/qualification_form.py).

Answers only: off-topic input (also as the best guess for an unsure message) and questions the parser can't
read as an answer are replied to and the question asked again, never stored; where the answer is a name (a
company, a person), a statement is the answer whatever it looked like; a "refusal" that answers the question is
an answer. Runs the real validation action on the real
domain; the classifier's verdict is given, as Rasa would pass it."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.dialogue import SKIPPED
from actions.qualification_form import ValidateQualificationForm

DOMAIN: dict[str, Any] = yaml.safe_load((Path(__file__).parents[2] / "domain.yml").read_text())


def run_form(
    asked: str,
    text: str,
    intent: str,
    guesses: tuple[str, ...] = (),
    confidences: tuple[float, ...] = (),
    earlier: tuple[str, ...] = (),
    filled: bool = True,
    **known: Any,
) -> tuple[dict[str, Any], list[str | None]]:
    """What the form's validation returns when ``text`` (classified ``intent``, then ``guesses``, with
    ``confidences`` or 0.4 each) answers question ``asked`` — after the ``earlier`` messages to the same
    question; ``filled``: whether the slot mapping took the text (rules' intents such as the FAQ don't)."""
    events: list[dict[str, Any]] = []
    for said in earlier:
        events += [
            {"event": "user", "text": said, "parse_data": {"intent": {"name": intent}}},
            {"event": "action", "name": "qualification_form"},
            {"event": "slot", "name": "requested_slot", "value": asked},
        ]
    events += [
        {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}},
        {"event": "action", "name": "qualification_form"},
        {"event": "slot", "name": "requested_slot", "value": asked},
        {"event": "action", "name": "qualification_form"},
    ]
    if filled:
        events.append({"event": "slot", "name": asked, "value": text})
    slots = {name: None for name in DOMAIN["slots"]} | {"requested_slot": asked, "language": "en"} | known
    names = (intent, *guesses)
    scores = confidences or (0.4,) * len(names)
    ranking = [{"name": name, "confidence": c} for name, c in zip(names, scores, strict=True)]
    message = {"text": text, "intent": {"name": intent}, "intent_ranking": ranking}
    tracker = Tracker("visitor", slots, message, events, False, None,
                      {"name": "qualification_form"}, "action_listen")  # fmt: skip
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ValidateQualificationForm().run(dispatcher, tracker, DOMAIN))
    slots_set = {event["name"]: event["value"] for event in result if event.get("event") == "slot"}
    return slots_set, [message.get("response") for message in dispatcher.messages]


@pytest.mark.parametrize("intent", ["out_of_scope", "chitchat"])
def test_a_company_name_the_classifier_did_not_recognise_is_the_answer(intent: str) -> None:
    slots, said = run_form("company", "Lakeshore Cycles", intent)
    assert slots["company"] == "Lakeshore Cycles" and said == []


def test_a_persons_name_is_the_answer_whatever_it_looked_like() -> None:
    slots, said = run_form("person_name", "Ngozi Okafor-Brandt", "out_of_scope")
    assert slots["person_name"] == "Ngozi Okafor-Brandt" and said == []


@pytest.mark.parametrize("text", ["what's the weather like in Lisbon?", "¿me cuentas un chiste"])
def test_a_question_at_a_free_wording_question_is_replied_to_and_the_question_stays(text: str) -> None:
    slots, said = run_form("company", text, "out_of_scope")
    assert slots["company"] is None and said == ["utter_out_of_scope"]


def test_off_topic_at_a_budget_question_gets_its_reply_not_a_budget_error() -> None:
    slots, said = run_form("budget", "nice weather today", "chitchat")
    assert slots["budget"] is None and said == ["utter_chitchat"]


def test_an_answer_classified_as_an_answer_is_validated_as_before() -> None:
    slots, said = run_form("budget", "around 20k", "inform")
    assert slots["budget_amount"] == "20000" and said == []


def test_an_answer_taken_for_a_refusal_is_still_the_answer() -> None:
    slots, said = run_form("authority", "I own the business", "rather_not_say")
    assert slots["authority"] == "decision_maker" and said == []


def test_a_refusal_skips_the_question() -> None:
    slots, said = run_form("authority", "I'd rather not say", "rather_not_say")
    assert slots["authority"] == "unknown" and said == ["utter_skip_ok"]


def test_an_unsure_message_that_may_ask_for_a_person_gets_the_offer_of_one() -> None:
    slots, said = run_form(
        "need", "I'd sooner have someone write to me", "nlu_fallback", ("out_of_scope", "request_human")
    )
    assert slots["need"] is None and said == ["utter_offer_human"]


def test_off_topic_input_that_may_ask_for_a_person_gets_the_offer_of_one() -> None:
    slots, said = run_form(
        "need", "ideally a human being would get back to me", "out_of_scope", ("request_human",), (0.7, 0.25)
    )
    assert slots["need"] is None and said == ["utter_offer_human"]


def test_off_topic_input_where_a_person_is_a_remote_guess_is_declined_not_stored_as_the_need() -> None:
    slots, said = run_form(
        "need", "which bank has the best savings rate", "out_of_scope", ("request_human",), (0.9, 0.05)
    )
    assert slots["need"] is None and said == ["utter_out_of_scope"]


@pytest.mark.parametrize(
    ("text", "guess", "reply"),
    [
        ("how tall is the eiffel tower", "out_of_scope", "utter_out_of_scope"),
        ("qué tal el finde", "chitchat", "utter_chitchat"),
    ],
)
def test_an_unsure_message_whose_best_guess_is_off_topic_is_not_the_need(
    text: str, guess: str, reply: str
) -> None:
    slots, said = run_form("need", text, "nlu_fallback", (guess, "inform"))
    assert slots["need"] is None and said == [reply]


def test_a_question_the_parser_cannot_read_as_a_budget_is_acknowledged_and_asked_again() -> None:
    slots, said = run_form("budget", "what do teams our size usually spend?", "inform")
    assert slots["budget"] is None and said == ["utter_question_noted"]


def test_a_question_that_states_the_answer_is_the_answer() -> None:
    slots, said = run_form("budget", "about 8k, is that enough?", "inform")
    assert slots["budget_amount"] == "8000" and said == []


def test_a_question_can_be_the_need() -> None:
    slots, said = run_form("need", "can it qualify the people who fill in our contact form?", "inform")
    assert slots["need"] == "can it qualify the people who fill in our contact form?" and said == []


def test_an_unsure_message_otherwise_is_taken_as_the_answer() -> None:
    slots, said = run_form(
        "need", "leads from our trade fair stand", "nlu_fallback", ("inform", "faq", "request_human")
    )
    assert slots["need"] == "leads from our trade fair stand" and said == []


@pytest.mark.parametrize(
    ("asked", "text", "intent"),
    [
        ("email", "I don't actually have an email address", "deny"),
        ("email", "no tengo correo", "inform"),
        ("phone", "we haven't got a landline or a mobile", "inform"),
        ("company", "I don't have a company, I'm freelance", "inform"),
        ("phone", "nope", "deny"),
    ],
)
def test_having_none_skips_the_question_instead_of_asking_again(asked: str, text: str, intent: str) -> None:
    slots, said = run_form(asked, text, intent)
    assert slots[asked] == "unknown" and said == ["utter_skip_ok"]


def test_having_no_problem_with_it_is_not_having_nothing() -> None:
    slots, said = run_form("consent", "I don't have a problem with that", "affirm")
    assert slots["consent"] is True and said == []


@pytest.mark.parametrize("asked", ["person_name", "company"])
def test_a_yes_is_not_a_name(asked: str) -> None:
    slots, said = run_form(asked, "yes", "affirm")
    assert slots[asked] is None and said == ["utter_invalid_answer"]


def test_a_plain_no_to_the_name_question_declines_it() -> None:
    slots, said = run_form("person_name", "no", "deny")
    assert slots["person_name"] == "unknown" and said == ["utter_skip_ok"]


def test_an_answer_that_states_no_intention_to_buy_ends_the_form_disqualified() -> None:
    slots, _ = run_form("timeline", "none, there's no purchase planned", "inform")
    assert slots["just_asking"] is True and slots["requested_slot"] is None


@pytest.mark.parametrize(("text", "consent"), [("yep, drop me a line", True), ("nah, rather not", False)])
def test_consent_however_it_is_said(text: str, consent: bool) -> None:
    slots, said = run_form("consent", text, "inform")
    assert slots["consent"] is consent and said == []


def test_a_statement_taken_for_a_sales_request_at_the_need_question_is_the_need() -> None:
    text = "a foundation that wants partner companies to reach our alliances team"
    slots, said = run_form("need", text, "request_sales")
    assert slots["need"] == text and said == []


def test_a_sales_request_that_does_not_answer_is_acknowledged_and_the_question_asked_again() -> None:
    slots, said = run_form("budget", "could you just send me your price list?", "request_sales")
    assert slots["budget"] is None and said == ["utter_sales_in_form"]


def test_a_yes_that_also_asks_for_a_proposal_is_consent() -> None:
    slots, said = run_form("consent", "by all means, and send over a proposal", "request_sales")
    assert slots["consent"] is True and said == []


def test_only_researching_at_the_role_question_is_the_answer_not_the_end() -> None:
    slots, said = run_form("authority", "I'm only doing the research, someone else decides", "just_asking")
    assert slots["authority"] in ("researcher", "influencer") and slots["just_asking"] is None and said == []


def test_just_looking_that_answers_nothing_ends_the_form() -> None:
    slots, said = run_form("budget", "honestly I'm only browsing", "just_asking", just_asking=True)
    assert slots == {"budget": None, "requested_slot": None} and said == []


def test_a_message_said_again_to_the_same_question_is_the_answer() -> None:
    slots, said = run_form(
        "authority",
        "well, that is a long story",
        "faq",
        earlier=("well, that is a long story",),
        filled=False,
    )
    assert slots["authority"] == "unknown" and said == []  # taken: the form moves on instead of looping


def test_a_third_non_answer_skips_the_question() -> None:
    slots, said = run_form("budget", "what's the weather?", "out_of_scope", retries={"budget": 2})
    assert slots["budget"] == "unknown" and said == ["utter_skip_after_retries"]


def test_bought_elsewhere_in_an_answer_parks_the_lead_and_asks_for_a_contact() -> None:
    slots, said = run_form("budget", "we went with another provider last month, so none now", "inform")
    assert slots["bought_competitor"] is True and "utter_nurture_ack" in said
    assert slots["requested_slot"] == "person_name"


def test_a_head_count_in_an_answer_is_the_company_size() -> None:
    slots, _ = run_form("budget", "about 9,000 dollars a year (we are some 45 people)", "inform")
    assert slots["company_size"] == 45 and slots["budget_amount"] == "9000"


@pytest.mark.parametrize(
    ("asked", "text"),
    [("timeline", "esto corre prisa, lo queremos para ayer"), ("budget", "stop worrying, it's 12k a year")],
)
def test_a_stop_that_answers_the_question_is_the_answer(asked: str, text: str) -> None:
    slots, said = run_form(asked, text, "stop", filled=False)
    assert slots.get(asked) is not None and "form_stopped" not in slots and "utter_form_stopped" not in said


def test_a_stop_that_says_there_is_no_email_skips_the_email_question() -> None:
    slots, said = run_form("email", "e-mail no, que no lo uso; llamadme", "stop", filled=False)
    assert slots["email"] == SKIPPED and "form_stopped" not in slots and "utter_form_stopped" not in said


@pytest.mark.parametrize("asked", ["need", "budget", "consent"])
def test_a_plain_stop_ends_the_questions_and_stores_nothing(asked: str) -> None:
    slots, said = run_form(asked, "enough, I'm not answering any more of this", "stop", filled=False)
    assert slots == {asked: None, "form_stopped": True, "requested_slot": None}
    assert said == ["utter_form_stopped"]


def open_form(text: str, intent: str) -> dict[str, Any]:
    """The slots the form's validation sets when ``text``, classified ``intent``, opens the conversation
    (no question asked yet), as after the rules' action_open_enquiry."""
    events = [
        {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}},
        {"event": "action", "name": "action_open_enquiry"},
        {"event": "action", "name": "qualification_form"},
    ]
    slots = {name: None for name in DOMAIN["slots"]} | {"language": "en"}
    message = {
        "text": text,
        "intent": {"name": intent},
        "intent_ranking": [{"name": intent, "confidence": 0.9}],
    }
    tracker = Tracker("visitor", slots, message, events, False, None,
                      {"name": "qualification_form"}, "action_listen")  # fmt: skip
    result = asyncio.run(ValidateQualificationForm().run(CollectingDispatcher(), tracker, DOMAIN))
    return {event["name"]: event["value"] for event in result if event.get("event") == "slot"}


@pytest.mark.parametrize(
    "text",
    [
        "can we get a quote for a bot that books lessons at our two driving schools?",
        "nos gustaría una demo de un chat para atender a los huéspedes del hostal",
    ],
)
def test_a_request_for_a_quote_that_says_what_for_answers_the_need(text: str) -> None:
    slots = open_form(text, "request_sales")
    assert slots["need"] == text and slots["requested_slot"] == "budget"


def test_a_bare_request_for_a_quote_is_asked_the_need() -> None:
    slots = open_form("could you send a quote over for two of our sites?", "request_sales")
    assert slots.get("need") is None and slots["requested_slot"] == "need"
